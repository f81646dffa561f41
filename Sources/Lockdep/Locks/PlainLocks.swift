/// The same lock types without validation: what `RawSpinLock` and the
/// others name in release builds. Same kinds of lock, same operations; the
/// class arguments are accepted and ignored, and `assertHeld()` checks
/// nothing.
public enum Plain {
  /// A raw spin lock without validation.
  public final class RawSpinLock: KernelLock, @unchecked Sendable {
    @usableFromInline let word = SpinWord()
    /// A raw spin lock (class arguments ignored).
    public init(
      name: String? = nil, key: LockClassKey? = nil, fileID: String = #fileID, line: Int = #line,
      column: Int = #column
    ) {}
    /// Takes the lock.
    @inlinable public func lock() { word.lock() }
    /// Takes the lock (subclass ignored).
    @inlinable public func lock(subclass: Int) { word.lock() }
    /// Takes the lock (nest lock ignored).
    @inlinable public func lock(nestLock: some KernelLock) { word.lock() }
    /// Takes the lock (nest map ignored), as `Checked`'s takes a
    /// `LockdepMap` for its nest lock.
    @inlinable public func lock(nestLock: Plain.LockdepMap) { word.lock() }
    /// Takes the lock (nest lock ignored): a validated map or lock (a debug
    /// build's `LockdepMap`) as the nest lock builds in every build.
    @inlinable public func lock(nestLock: ValidatedLock) { word.lock() }
    /// Releases the lock.
    @inlinable public func unlock() { word.unlock() }
    /// Takes the lock if it is free.
    @inlinable public func tryLock() -> Bool { word.tryLock() }
    /// Runs `body` with the lock held and interrupts off
    /// (`spin_lock_irqsave()`): the signals of the handlers installed with
    /// `installSignalHandler` blocked on this thread, as
    /// `Plain.withInterruptsMasked` blocks them (no system call while none
    /// is installed); `ip` ignored.
    @inlinable public func withLockIRQSave<Result, Failure: Error>(
      from ip: UInt64? = nil, _ body: () throws(Failure) -> Result
    ) throws(Failure) -> Result {
      try Plain.withInterruptsMasked { () throws(Failure) -> Result in
        word.lock()
        defer { word.unlock() }
        return try body()
      }
    }
    /// Runs `body` with the lock held and interrupts off if the lock is
    /// free now (`spin_trylock_irqsave()`); nil when it is busy. Interrupts
    /// as `withLockIRQSave` leaves them; `ip` ignored.
    @inlinable public func withTryLockIRQSave<Result, Failure: Error>(
      from ip: UInt64? = nil, _ body: () throws(Failure) -> Result
    ) throws(Failure) -> Result? {
      try Plain.withInterruptsMasked { () throws(Failure) -> Result? in
        guard word.tryLock() else { return nil }
        defer { word.unlock() }
        return try body()
      }
    }
    /// Checks nothing.
    @inlinable public func assertHeld(file: StaticString = #fileID, line: UInt = #line) {}
    /// Checks nothing.
    @inlinable public func assertNotHeld(file: StaticString = #fileID, line: UInt = #line) {}
  }

  /// A spin lock (`spinlock_t`) without validation.
  public typealias SpinLock = RawSpinLock
  /// A local lock without validation.
  public typealias LocalLock = RawSpinLock

  /// A spinning reader-writer lock without validation.
  public final class RWLock: KernelReaderWriterLock, @unchecked Sendable {
    @usableFromInline let word = RWSpinWord()
    /// An rwlock (class arguments ignored).
    public init(
      name: String? = nil, key: LockClassKey? = nil, fileID: String = #fileID, line: Int = #line,
      column: Int = #column
    ) {}
    /// Takes the lock exclusively.
    @inlinable public func lock() { word.lock() }
    /// Takes the lock exclusively (subclass ignored).
    @inlinable public func lock(subclass: Int) { word.lock() }
    /// Releases an exclusive hold.
    @inlinable public func unlock() { word.unlock() }
    /// Takes the lock exclusively if it is free.
    @inlinable public func tryLock() -> Bool { word.tryLock() }
    /// Takes the lock shared.
    @inlinable public func readLock() { word.readLock() }
    /// Releases a shared hold.
    @inlinable public func readUnlock() { word.readUnlock() }
    /// Takes the lock shared if possible.
    @inlinable public func tryReadLock() -> Bool { word.tryReadLock() }
    /// Checks nothing.
    @inlinable public func assertHeld(file: StaticString = #fileID, line: UInt = #line) {}
    /// Checks nothing.
    @inlinable public func assertNotHeld(file: StaticString = #fileID, line: UInt = #line) {}
  }

  /// A sleeping mutex without validation.
  public final class Mutex: KernelLock, @unchecked Sendable {
    @usableFromInline let mutex = SleepingMutex()
    /// A mutex (class arguments ignored).
    public init(
      name: String? = nil, key: LockClassKey? = nil, fileID: String = #fileID, line: Int = #line,
      column: Int = #column
    ) {}
    /// Takes the lock.
    @inlinable public func lock() { mutex.lock() }
    /// Takes the lock (subclass ignored).
    @inlinable public func lock(subclass: Int) { mutex.lock() }
    /// Takes the lock (nest lock ignored).
    @inlinable public func lock(nestLock: some KernelLock) { mutex.lock() }
    /// Takes the lock (nest map ignored), as `Checked`'s takes a
    /// `LockdepMap` for its nest lock.
    @inlinable public func lock(nestLock: Plain.LockdepMap) { mutex.lock() }
    /// Takes the lock (nest lock ignored): a validated map or lock (a debug
    /// build's `LockdepMap`) as the nest lock builds in every build.
    @inlinable public func lock(nestLock: ValidatedLock) { mutex.lock() }
    /// Releases the lock.
    @inlinable public func unlock() { mutex.unlock() }
    /// Takes the lock if it is free.
    @inlinable public func tryLock() -> Bool { mutex.tryLock() }
    /// Checks nothing.
    @inlinable public func assertHeld(file: StaticString = #fileID, line: UInt = #line) {}
    /// Checks nothing.
    @inlinable public func assertNotHeld(file: StaticString = #fileID, line: UInt = #line) {}
  }

  /// A sleeping reader-writer semaphore without validation.
  public final class RWSemaphore: KernelReaderWriterLock, @unchecked Sendable {
    @usableFromInline let rwlock = SleepingRWLock()
    /// An rwsem (class arguments ignored).
    public init(
      name: String? = nil, key: LockClassKey? = nil, fileID: String = #fileID, line: Int = #line,
      column: Int = #column
    ) {}
    /// Takes the lock exclusively.
    @inlinable public func lock() { rwlock.lock() }
    /// Takes the lock exclusively (subclass ignored).
    @inlinable public func lock(subclass: Int) { rwlock.lock() }
    /// Takes the lock exclusively (nest lock ignored).
    @inlinable public func lock(nestLock: some KernelLock) { rwlock.lock() }
    /// Takes the lock (nest map ignored), as `Checked`'s takes a
    /// `LockdepMap` for its nest lock.
    @inlinable public func lock(nestLock: Plain.LockdepMap) { rwlock.lock() }
    /// Takes the lock (nest lock ignored): a validated map or lock (a debug
    /// build's `LockdepMap`) as the nest lock builds in every build.
    @inlinable public func lock(nestLock: ValidatedLock) { rwlock.lock() }
    /// Releases an exclusive hold.
    @inlinable public func unlock() { rwlock.unlock() }
    /// Takes the lock exclusively if it is free.
    @inlinable public func tryLock() -> Bool { rwlock.tryLock() }
    /// Takes the lock shared.
    @inlinable public func readLock() { rwlock.readLock() }
    /// Takes the lock shared (subclass ignored).
    @inlinable public func readLock(subclass: Int) { rwlock.readLock() }
    /// Releases a shared hold.
    @inlinable public func readUnlock() { rwlock.readUnlock() }
    /// Takes the lock shared if possible.
    @inlinable public func tryReadLock() -> Bool { rwlock.tryReadLock() }
    /// Checks nothing.
    @inlinable public func assertHeld(file: StaticString = #fileID, line: UInt = #line) {}
    /// Checks nothing.
    @inlinable public func assertNotHeld(file: StaticString = #fileID, line: UInt = #line) {}
  }
}
