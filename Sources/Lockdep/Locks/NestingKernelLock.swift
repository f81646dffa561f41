import CLockdepSupport

/// A lock that can be taken nested under another lock of its class, as the
/// kernel's `*_lock_nested()` and `*_lock_nest_lock()`, from a call site a
/// wrapper names (as `lock(from:)`): so that `Protected.withLock(subclass:_:)`
/// and `withLock(nestLock:_:)` report their own caller's line. The
/// exclusive lock types of this module conform, validated or not
/// (`RawSpinLock`, `SpinLock`, `LocalLock`, `Mutex`, `RWSemaphore`).
public protocol NestingKernelLock: KernelLock {
  /// Takes a lock of the same class as one held, nested at `subclass` (0
  /// to 7; 0 is `lock()`'s class), as `lock(subclass:)`, recorded at call
  /// site `ip` (a return address).
  func lock(subclass: Int, from ip: UInt64)
  /// Takes a lock of the same class as one held, both serialized by
  /// `nestLock`, which must be held, as `lock(nestLock:)`, recorded at
  /// call site `ip` (a return address). `nestLock` is a lock of this
  /// module or a `LockdepMap` (a lock type of your own: its map); any
  /// other object serializes nothing the validator knows of, and the lock
  /// is taken as by `lock(from:)`.
  func lock(nestLock: AnyObject, from ip: UInt64)
}

extension SpinningLock: NestingKernelLock {
  /// `spin_lock_nested()` from call site `ip`.
  public final func lock(subclass: Int, from ip: UInt64) {
    validateAcquire(subclass: subclass, ip: ip)
    take({ word.tryLock() }, { word.lock() })
  }

  /// `spin_lock_nest_lock()` from call site `ip` (a nest lock that is not
  /// validated serializes nothing the validator knows of: `lock(from:)`).
  public final func lock(nestLock: AnyObject, from ip: UInt64) {
    guard let validated = nestLock as? ValidatedLock else { return lock(from: ip) }
    validateAcquire(nest: validated, ip: ip)
    take({ word.tryLock() }, { word.lock() })
  }
}

extension Checked.Mutex: NestingKernelLock {
  /// `mutex_lock_nested()` from call site `ip`.
  public func lock(subclass: Int, from ip: UInt64) {
    validateAcquire(subclass: subclass, ip: ip)
    take({ mutex.tryLock() }, { mutex.lock() })
  }

  /// `mutex_lock_nest_lock()` from call site `ip` (a nest lock that is not
  /// validated serializes nothing the validator knows of: `lock(from:)`).
  public func lock(nestLock: AnyObject, from ip: UInt64) {
    guard let validated = nestLock as? ValidatedLock else { return lock(from: ip) }
    validateAcquire(nest: validated, ip: ip)
    take({ mutex.tryLock() }, { mutex.lock() })
  }
}

extension Checked.RWSemaphore: NestingKernelLock {
  /// `down_write_nested()` from call site `ip`.
  public func lock(subclass: Int, from ip: UInt64) {
    validateAcquire(subclass: subclass, ip: ip)
    take({ rwlock.tryLock() }, { rwlock.lock() })
  }

  /// `down_write_nest_lock()` from call site `ip` (a nest lock that is not
  /// validated serializes nothing the validator knows of: `lock(from:)`).
  public func lock(nestLock: AnyObject, from ip: UInt64) {
    guard let validated = nestLock as? ValidatedLock else { return lock(from: ip) }
    validateAcquire(nest: validated, ip: ip)
    take({ rwlock.tryLock() }, { rwlock.lock() })
  }
}

extension NestingKernelLock {
  /// Takes a lock of the same class as one held, nested at `subclass` (0
  /// to 7), recorded at the caller's site: each lock type's own
  /// `lock(subclass:)`, for code generic over `NestingKernelLock`.
  @inlinable
  public func lock(subclass: Int) {
    // As `KernelLock.withLock(_:)`: a debug build does not inline this, and
    // names its call site; an optimized one does, where `callSite()`'s own
    // return address is in the caller's code.
    #if DEBUG
      lock(subclass: subclass, from: UInt64(UInt(bitPattern: rlc_return_address())))
    #else
      lock(subclass: subclass, from: Checked.callSite())
    #endif
  }
}

extension Plain.RawSpinLock: NestingKernelLock {
  /// Takes the lock (subclass and site ignored).
  @inlinable public func lock(subclass: Int, from ip: UInt64) { lock() }
  /// Takes the lock (nest lock and site ignored).
  @inlinable public func lock(nestLock: AnyObject, from ip: UInt64) { lock() }
}

extension Plain.Mutex: NestingKernelLock {
  /// Takes the lock (subclass and site ignored).
  @inlinable public func lock(subclass: Int, from ip: UInt64) { lock() }
  /// Takes the lock (nest lock and site ignored).
  @inlinable public func lock(nestLock: AnyObject, from ip: UInt64) { lock() }
}

extension Plain.RWSemaphore: NestingKernelLock {
  /// Takes the lock exclusively (subclass and site ignored).
  @inlinable public func lock(subclass: Int, from ip: UInt64) { lock() }
  /// Takes the lock exclusively (nest lock and site ignored).
  @inlinable public func lock(nestLock: AnyObject, from ip: UInt64) { lock() }
}
