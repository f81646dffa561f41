import CLockdepSupport

/// A value that can only be reached with its lock held, like the standard
/// library's `Synchronization.Mutex<Value>`, over any lock of this module:
/// `Protected(0, by: SpinLock(name: "&counter->lock"))`.
public final class Protected<Lock: KernelLock, Value>: @unchecked Sendable {
  /// The lock that guards the value.
  public let lock: Lock
  /// The value, reached only with the lock held. Not checked for
  /// exclusive access at run time: the lock is what makes it exclusive.
  @usableFromInline @exclusivity(unchecked) var value: Value

  /// Guards `value` with `lock`. `value` is sent in: no reference to it
  /// stays outside the lock (as `Synchronization.Mutex.init`).
  public init(_ value: sending Value, by lock: Lock) {
    self.value = value
    self.lock = lock
  }

  /// Runs `body` with the lock held and the value to read or change.
  ///
  /// As `Synchronization.Mutex.withLock`, the value is `sending` and so is
  /// the result: in Swift 6 mode the compiler refuses a closure that sends
  /// a non-`Sendable` value it cannot prove disconnected out of the lock.
  /// As with `Synchronization.Mutex`, that check does not see every
  /// escape (a closure that returns a class instance the value holds
  /// compiles, and so does `{ $0 }` itself for a class instance: the
  /// compiler's swiftlang/swift#81274): keep references to the value and
  /// its contents inside `body`.
  /// - Parameter body: What to do with the value while the lock is held.
  /// - Returns: What `body` returns.
  ///
  /// Inlined in optimized builds, as `KernelLock.withLock(_:)`: there a
  /// plain lock's `withLock` is its lock and unlock alone, and a validated
  /// lock's `lock()` names the caller's code; a debug build names this
  /// function's call site, its return address.
  @inlinable
  public func withLock<Result, Failure: Error>(
    _ body: (inout sending Value) throws(Failure) -> sending Result
  ) throws(Failure) -> sending Result {
    #if DEBUG
      lock.lock(from: UInt64(UInt(bitPattern: rlc_return_address())))
    #else
      lock.lock()
    #endif
    defer { lock.unlock() }
    return try body(&value)
  }
}

extension Protected where Lock: NestingKernelLock {
  /// `withLock(_:)` with the lock taken nested at `subclass`
  /// (`mutex_lock_nested()`, `spin_lock_nested()`: 0 to 7; 0 is
  /// `withLock(_:)`'s class), for a value of an object taken while
  /// another of its class is held, in an order the code keeps (two
  /// accounts locked in address order: the second at subclass 1).
  /// - Parameters:
  ///   - subclass: The subclass the lock is taken at.
  ///   - body: What to do with the value while the lock is held.
  /// - Returns: What `body` returns.
  ///
  /// Never inlined: the lock is taken from this function's call site.
  @inline(never)
  public func withLock<Result, Failure: Error>(
    subclass: Int, _ body: (inout sending Value) throws(Failure) -> sending Result
  ) throws(Failure) -> sending Result {
    lock.lock(subclass: subclass, from: UInt64(UInt(bitPattern: rlc_return_address())))
    defer { lock.unlock() }
    return try body(&value)
  }

  /// `withLock(_:)` with the lock taken under `nestLock`, which must be
  /// held and serializes every lock of this class taken under it
  /// (`mutex_lock_nest_lock()`, `spin_lock_nest_lock()`): any number of
  /// them, in any order, as `mm_take_all_locks()` takes its mappings'.
  /// - Parameters:
  ///   - nestLock: The lock, held, that serializes this class's locks: a
  ///     lock of this module, or a `LockdepMap` (a lock type of your own:
  ///     its map).
  ///   - body: What to do with the value while the lock is held.
  /// - Returns: What `body` returns.
  ///
  /// Never inlined: the lock is taken from this function's call site.
  @inline(never)
  public func withLock<Result, Failure: Error>(
    nestLock: AnyObject, _ body: (inout sending Value) throws(Failure) -> sending Result
  ) throws(Failure) -> sending Result {
    lock.lock(nestLock: nestLock, from: UInt64(UInt(bitPattern: rlc_return_address())))
    defer { lock.unlock() }
    return try body(&value)
  }
}

extension Protected where Lock: KernelReaderWriterLock, Value: Sendable {
  /// Runs `body` with the lock held shared (`read_lock()`, `down_read()`)
  /// and the value to read: readers run at once, so `body` borrows the
  /// value and cannot change it. The value must be `Sendable`, as readers
  /// on several threads see it at once.
  /// - Parameter body: What to do with the value while the lock is held.
  /// - Returns: What `body` returns.
  ///
  /// Inlined in optimized builds, as `withLock(_:)`.
  @inlinable
  public func withReadLock<Result, Failure: Error>(
    _ body: (borrowing Value) throws(Failure) -> Result
  ) throws(Failure) -> Result {
    #if DEBUG
      lock.readLock(from: UInt64(UInt(bitPattern: rlc_return_address())))
    #else
      lock.readLock()
    #endif
    defer { lock.readUnlock() }
    return try body(value)
  }
}
