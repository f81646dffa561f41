import CLockdepSupport

/// A value that can only be reached with its lock held, like the standard
/// library's `Synchronization.Mutex<Value>`, over any lock of this module:
/// `Protected(0, by: SpinLock(name: "&counter->lock"))`.
public final class Protected<Lock: KernelLock, Value>: @unchecked Sendable {
  /// The lock that guards the value.
  public let lock: Lock
  private var value: Value

  /// Guards `value` with `lock`.
  public init(_ value: Value, by lock: Lock) {
    self.value = value
    self.lock = lock
  }

  /// Runs `body` with the lock held and the value to read or change.
  ///
  /// Never inlined: the lock is taken from this function's call site, its
  /// return address.
  @inline(never)
  public func withLock<Result, Failure: Error>(
    _ body: (inout Value) throws(Failure) -> Result
  ) throws(Failure) -> Result {
    lock.lock(from: UInt64(UInt(bitPattern: rlc_return_address())))
    defer { lock.unlock() }
    return try body(&value)
  }
}
