import CLockdepSupport
import LockGraph
import WaitContext

/// The validated lock types, whatever the build. `RawSpinLock`, `SpinLock`
/// and the others name these in debug builds (and with the `Validation`
/// trait); use them by this name where validation must stay on in an
/// optimized build (benchmarks, the project's own demo).
public enum Checked {
  /// `raw_spinlock_t`: spins and never sleeps, even on PREEMPT_RT (wait
  /// types spin/spin).
  public final class RawSpinLock: SpinningLock, @unchecked Sendable {
    /// A raw spin lock of the class of this place in the code, or of `key`, named `name` in reports.
    public init(
      name: String? = nil, key: LockClassKey? = nil, fileID: String = #fileID, line: Int = #line,
      column: Int = #column
    ) {
      super.init(
        kind: .rawSpinlock, name: name, key: key, fileID: fileID, line: line, column: column)
    }
  }

  /// `spinlock_t`: spins in user space, checked as `config` (it sleeps on
  /// PREEMPT_RT, so it must not nest inside a raw spin lock).
  public final class SpinLock: SpinningLock, @unchecked Sendable {
    /// A spin lock of the class of this place in the code, or of `key`, named `name` in reports.
    public init(
      name: String? = nil, key: LockClassKey? = nil, fileID: String = #fileID, line: Int = #line,
      column: Int = #column
    ) {
      super.init(kind: .spinlock, name: name, key: key, fileID: fileID, line: line, column: column)
    }
  }

  /// `local_lock_t`: a per-CPU lock (checked as `config`, lock type percpu).
  public final class LocalLock: SpinningLock, @unchecked Sendable {
    /// A local lock of the class of this place in the code, or of `key`, named `name` in reports.
    public init(
      name: String? = nil, key: LockClassKey? = nil, fileID: String = #fileID, line: Int = #line,
      column: Int = #column
    ) {
      super.init(kind: .localLock, name: name, key: key, fileID: fileID, line: line, column: column)
    }
  }

  /// `rwlock_t`: a spinning reader-writer lock whose readers may recurse
  /// (read acquisitions are recursive reads), checked as `config`.
  public final class RWLock: ValidatedLock, KernelReaderWriterLock, @unchecked Sendable {
    let word = RWSpinWord()

    deinit { keepDeinitializerOutOfClients() }

    /// An rwlock of the class of this place in the code, or of `key`, named `name` in reports.
    public init(
      name: String? = nil, key: LockClassKey? = nil, fileID: String = #fileID, line: Int = #line,
      column: Int = #column
    ) {
      super.init(kind: .rwlock, name: name, key: key, fileID: fileID, line: line, column: column)
    }

    /// Takes the lock exclusively, spinning until it is free
    /// (`write_lock()`): validated as a write acquisition (order, wait
    /// context, irq safety, recursion).
    public func lock() {
      validateAcquire()
      take({ word.tryLock() }, { word.lock() })
    }

    /// `write_lock()` from call site `ip` (`KernelLock.lock(from:)`).
    public func lock(from ip: UInt64) {
      validateAcquire(ip: ip)
      take({ word.tryLock() }, { word.lock() })
    }

    /// `write_lock_nested()`: a lock of the same class nested at
    /// `subclass` (0 to 7; 0 is `lock()`'s class).
    public func lock(subclass: Int) {
      validateAcquire(subclass: subclass)
      take({ word.tryLock() }, { word.lock() })
    }

    /// Releases an exclusive hold (`write_unlock()`); a release of a lock
    /// this thread does not hold is a `bad-unlock-balance` finding.
    public func unlock() {
      validateRelease(ip: callerAddress)
      word.unlock()
    }

    /// Takes the lock exclusively if it is free now (`write_trylock()`).
    /// - Returns: whether it was taken. A trylock cannot wait: it adds no
    ///   dependency on the locks held, and is no invalid wait context.
    public func tryLock() -> Bool {
      guard word.tryLock() else { return false }
      validateAcquire(trylock: true)
      return true
    }

    /// Takes the lock shared, spinning while a writer holds it
    /// (`read_lock()`): validated as a recursive read, which may nest in
    /// another read of the same lock.
    public func readLock() {
      validateAcquire(read: .recursive)
      take({ word.tryReadLock() }, { word.readLock() })
    }

    /// `read_lock()` from call site `ip` (`KernelReaderWriterLock.readLock(from:)`).
    public func readLock(from ip: UInt64) {
      validateAcquire(read: .recursive, ip: ip)
      take({ word.tryReadLock() }, { word.readLock() })
    }

    /// Releases a shared hold (`read_unlock()`).
    public func readUnlock() {
      validateRelease(ip: callerAddress)
      word.readUnlock()
    }

    /// Takes the lock shared if no writer holds it now (`read_trylock()`).
    /// - Returns: whether it was taken.
    public func tryReadLock() -> Bool {
      guard word.tryReadLock() else { return false }
      validateAcquire(read: .recursive, trylock: true)
      return true
    }
  }

  /// `struct mutex`: a sleeping lock (a `pthread_mutex_t`).
  public final class Mutex: ValidatedLock, KernelLock, @unchecked Sendable {
    let mutex = SleepingMutex()

    /// A mutex of the class of this place in the code, or of `key`, named `name` in reports.
    public init(
      name: String? = nil, key: LockClassKey? = nil, fileID: String = #fileID, line: Int = #line,
      column: Int = #column
    ) {
      super.init(kind: .mutex, name: name, key: key, fileID: fileID, line: line, column: column)
    }

    /// Takes the mutex, sleeping until it is free (`mutex_lock()`):
    /// validated as a sleeping acquisition, so taking it where sleeping is
    /// not allowed (under a spin lock, with interrupts or preemption off)
    /// is a finding.
    public func lock() { acquire(ip: callerAddress) }

    /// `mutex_lock()` from call site `ip` (`KernelLock.lock(from:)`).
    public func lock(from ip: UInt64) { acquire(ip: ip) }

    @inline(__always)
    func acquire(ip: UInt64) {
      if tryValidateAcquireMemoized(ip: ip) { return mutex.lock() }
      lockValidatingFully(ip: ip)
    }

    /// The rest of the fast path, else the full one; then the lock.
    @inline(never)
    func lockValidatingFully(ip: UInt64) {
      if !tryValidateAcquireFast(ip: ip) { validateAcquire(ip: ip) }
      take({ mutex.tryLock() }, { mutex.lock() })
    }

    /// Takes a mutex of the same class as one held, nested at `subclass`
    /// (`mutex_lock_nested()`, 0 to 7; 0 is `lock()`'s class): each
    /// subclass is a class of its own for the validator.
    public func lock(subclass: Int) { lock(subclass: subclass, from: callerAddress) }

    /// Takes a mutex of the same class as one held, both serialized by
    /// `nestLock`, which must be held (`mutex_lock_nest_lock()`): no
    /// recursive locking finding; `nestLock` not held is one.
    public func lock(nestLock: ValidatedLock) { lock(nestLock: nestLock, from: callerAddress) }

    /// `lock(nestLock:)` of any lock type, so that code generic over
    /// `KernelLock` builds with validation as without: a nest lock that is
    /// not validated serializes nothing the validator knows of, and the
    /// lock is taken as by `lock()`.
    public func lock(nestLock: some KernelLock) {
      let ip = callerAddress
      guard let validated = nestLock as? ValidatedLock else { return lock(from: ip) }
      lock(nestLock: validated, from: ip)
    }

    /// `lock(nestLock:)` of a map that is not validated (a release build's
    /// `LockdepMap`), so that such code builds in every build: it
    /// serializes nothing the validator knows of, and the lock is taken as
    /// by `lock()`.
    public func lock(nestLock: Plain.LockdepMap) { lock(from: callerAddress) }

    /// Releases the mutex (`mutex_unlock()`); a release of a mutex this
    /// thread does not hold is a `bad-unlock-balance` finding.
    public func unlock() {
      if tryValidateReleaseFast() { return mutex.unlock() }
      unlockValidatingFully(ip: callerAddress)
    }

    @inline(never)
    func unlockValidatingFully(ip: UInt64) {
      validateRelease(ip: ip)
      mutex.unlock()
    }

    /// Takes the mutex if it is free now, without sleeping
    /// (`mutex_trylock()`).
    /// - Returns: whether it was taken. A trylock cannot wait: it adds no
    ///   dependency on the locks held, and is no sleep.
    public func tryLock() -> Bool {
      guard mutex.tryLock() else { return false }
      validateAcquire(trylock: true)
      return true
    }
  }

  /// `struct rw_semaphore`: a sleeping reader-writer lock whose reads are
  /// not recursive (a read waits behind a waiting writer).
  public final class RWSemaphore: ValidatedLock, KernelReaderWriterLock, @unchecked Sendable {
    let rwlock = SleepingRWLock()

    /// An rwsem of the class of this place in the code, or of `key`, named `name` in reports.
    public init(
      name: String? = nil, key: LockClassKey? = nil, fileID: String = #fileID, line: Int = #line,
      column: Int = #column
    ) {
      super.init(kind: .rwsem, name: name, key: key, fileID: fileID, line: line, column: column)
    }

    /// Takes the semaphore exclusively, sleeping until it is free
    /// (`down_write()`): validated as a sleeping write acquisition.
    public func lock() {
      validateAcquire()
      take({ rwlock.tryLock() }, { rwlock.lock() })
    }

    /// `down_write()` from call site `ip` (`KernelLock.lock(from:)`).
    public func lock(from ip: UInt64) {
      validateAcquire(ip: ip)
      take({ rwlock.tryLock() }, { rwlock.lock() })
    }

    /// Takes a semaphore of the same class as one held, exclusively,
    /// nested at `subclass` (`down_write_nested()`, 0 to 7).
    public func lock(subclass: Int) { lock(subclass: subclass, from: callerAddress) }

    /// `down_write_nest_lock()`: same-class nesting serialized by
    /// `nestLock`, held.
    public func lock(nestLock: ValidatedLock) { lock(nestLock: nestLock, from: callerAddress) }

    /// `lock(nestLock:)` of any lock type, so that code generic over
    /// `KernelLock` builds with validation as without: a nest lock that is
    /// not validated serializes nothing the validator knows of, and the
    /// lock is taken as by `lock()`.
    public func lock(nestLock: some KernelLock) {
      let ip = callerAddress
      guard let validated = nestLock as? ValidatedLock else { return lock(from: ip) }
      lock(nestLock: validated, from: ip)
    }

    /// `lock(nestLock:)` of a map that is not validated (a release build's
    /// `LockdepMap`), so that such code builds in every build: it
    /// serializes nothing the validator knows of, and the lock is taken as
    /// by `lock()`.
    public func lock(nestLock: Plain.LockdepMap) { lock(from: callerAddress) }

    /// Releases an exclusive hold (`up_write()`).
    public func unlock() {
      validateRelease(ip: callerAddress)
      rwlock.unlock()
    }

    /// Takes the semaphore exclusively if it is free now
    /// (`down_write_trylock()`).
    /// - Returns: whether it was taken.
    public func tryLock() -> Bool {
      guard rwlock.tryLock() else { return false }
      validateAcquire(trylock: true)
      return true
    }

    /// Takes the semaphore shared, sleeping while a writer holds or waits
    /// for it (`down_read()`): validated as a non-recursive read (a second
    /// read of the same class can deadlock behind a waiting writer).
    public func readLock() {
      validateAcquire(read: .shared)
      take({ rwlock.tryReadLock() }, { rwlock.readLock() })
    }

    /// `down_read()` from call site `ip` (`KernelReaderWriterLock.readLock(from:)`).
    public func readLock(from ip: UInt64) {
      validateAcquire(read: .shared, ip: ip)
      take({ rwlock.tryReadLock() }, { rwlock.readLock() })
    }

    /// `down_read_nested()`: a read of the same class nested at
    /// `subclass` (0 to 7; 0 is `lock()`'s class).
    public func readLock(subclass: Int) {
      validateAcquire(read: .shared, subclass: subclass)
      take({ rwlock.tryReadLock() }, { rwlock.readLock() })
    }

    /// Releases a shared hold (`up_read()`).
    public func readUnlock() {
      validateRelease(ip: callerAddress)
      rwlock.readUnlock()
    }

    /// Takes the semaphore shared if it can now (`down_read_trylock()`).
    /// - Returns: whether it was taken.
    public func tryReadLock() -> Bool {
      guard rwlock.tryReadLock() else { return false }
      validateAcquire(read: .shared, trylock: true)
      return true
    }
  }
}

/// What the spinning exclusive lock types (`Checked.RawSpinLock`,
/// `SpinLock`, `LocalLock`) share: a spin word and the kernel's operations
/// on it, validated. They differ only in their kind (their wait types).
public class SpinningLock: ValidatedLock, KernelLock, @unchecked Sendable {
  let word = SpinWord()

  deinit { keepDeinitializerOutOfClients() }

  /// `spin_lock_irqsave()` ... `spin_unlock_irqrestore()` around `body`
  /// (`raw_spin_lock_irqsave()`, `local_lock_irqsave()`): interrupts off
  /// (as `Checked.withInterruptsMasked`: the signals of the handlers
  /// installed with `installSignalHandler` blocked on this thread, and
  /// the validator told), then the lock, released however `body` ends.
  /// Checked as for PREEMPT_RT (`RAWLOCKCHECK_PREEMPT_RT`), a
  /// `SpinLock` or `LocalLock` leaves interrupts on for the validator, as
  /// that kernel does: there it is a sleeping lock, and its `_irqsave`
  /// form only takes it (so nothing under it is in atomic context); the
  /// signals stay blocked, since here it spins. A `RawSpinLock` still
  /// disables them. The acquisition is recorded at `ip` (a wrapper's
  /// `LockValidation.returnAddress()`, as `lock(from:)` takes), else at
  /// this call's site.
  @inline(never)
  public final func withLockIRQSave<Result, Failure: Error>(
    from ip: UInt64? = nil, _ body: () throws(Failure) -> Result
  ) throws(Failure) -> Result {
    // Read here, not in an autoclosure of `??`, where it would be the
    // closure's own return address.
    let site = UInt64(UInt(bitPattern: rlc_return_address()))
    let ip = ip ?? site
    return try savingInterrupts(at: ip) { () throws(Failure) -> Result in
      lock(from: ip)
      defer { unlock() }
      return try body()
    }
  }

  /// `spin_trylock_irqsave()` ... `spin_unlock_irqrestore()` around `body`:
  /// its result, or nil (interrupts as they were) when the lock is busy;
  /// interrupts as `withLockIRQSave` leaves them, and the acquisition
  /// recorded at `ip`, else at this call's site, as there.
  @inline(never)
  public final func withTryLockIRQSave<Result, Failure: Error>(
    from ip: UInt64? = nil, _ body: () throws(Failure) -> Result
  ) throws(Failure) -> Result? {
    let site = UInt64(UInt(bitPattern: rlc_return_address()))
    let ip = ip ?? site
    return try savingInterrupts(at: ip) { () throws(Failure) -> Result? in
      guard tryLock(from: ip) else { return nil }
      defer { unlock() }
      return try body()
    }
  }

  /// `body` with interrupts off, as the `_irqsave` forms run: the
  /// signals of the handlers installed with `installSignalHandler` (the
  /// program's hard interrupts) blocked on this thread, so that none can
  /// interrupt `body` and spin on this lock (as `withInterruptsMasked`;
  /// no system call while none is installed), and interrupts off for the
  /// validator: always for a raw spin lock, and for the others unless
  /// checked as for PREEMPT_RT, where they leave interrupts on (the
  /// signals stay blocked all the same: this lock spins here, and a
  /// handler that took it would spin forever).
  private func savingInterrupts<Result, Failure: Error>(
    at ip: UInt64, _ body: () throws(Failure) -> Result
  ) throws(Failure) -> Result {
    let validated = self is Checked.RawSpinLock || !LockValidation.checksAsPreemptRT
    guard _fastPath(InterruptMask.noHandlerInstalled) else {
      return try InterruptMask.withSignalsBlocked(validated: validated, ip: ip, body)
    }
    guard validated else { return try body() }
    return try Checked.within(.irqDisable, .irqEnable, ip: ip, body)
  }

  /// Takes the lock, spinning until it is free (`spin_lock()`,
  /// `raw_spin_lock()`, `local_lock()`): validated against the locks held
  /// and the context (its wait type, order, irq safety, recursion).
  public final func lock() { acquire(ip: callerAddress) }

  /// `spin_lock()` from call site `ip` (`KernelLock.lock(from:)`).
  public final func lock(from ip: UInt64) { acquire(ip: ip) }

  @inline(__always)
  final func acquire(ip: UInt64) {
    // Uncontended, the lock is taken first and validated after by the
    // fast path: its stores then drain while the rest of the critical
    // section runs, instead of stalling the atomic instruction, which
    // waits for every earlier store. (An acquisition that did not wait
    // cannot have deadlocked, so validating it a moment later finds the
    // same.) The full path runs before the lock is taken, as a contended
    // acquisition's does. The memoized fast path calls nothing and every
    // other path is a tail call: the common case saves no registers.
    if word.tryLock() {
      if tryValidateAcquireMemoized(ip: ip) { return }
      return validateAcquired(ip: ip)
    }
    lockValidatingFully(ip: ip)
  }

  /// The validation of an acquisition that took the lock at once and is
  /// not memoized: the rest of the fast path; else the lock is given back
  /// and validated in full before it is taken again. The full path may
  /// allocate, print, take the validator's lock or abort the process:
  /// never with the caller's lock held, where a signal handler taking it,
  /// or one run at abort, would spin for ever.
  @inline(never)
  final func validateAcquired(ip: UInt64) {
    if tryValidateAcquireFast(ip: ip) { return }
    word.unlock()
    validateAcquire(ip: ip)
    word.lock()
  }

  /// A contended acquisition: validated (the fast path, else the full
  /// one) before it waits.
  @inline(never)
  final func lockValidatingFully(ip: UInt64) {
    if !tryValidateAcquireFast(ip: ip) { validateAcquire(ip: ip) }
    take({ word.tryLock() }, { word.lock() })
  }

  /// `spin_lock_nested()`: a lock of the same class nested at `subclass`
  /// (0 to 7; 0 is `lock()`'s class).
  public final func lock(subclass: Int) { lock(subclass: subclass, from: callerAddress) }

  /// `spin_lock_nest_lock()`: same-class nesting serialized by `nestLock`, held.
  public final func lock(nestLock: ValidatedLock) {
    lock(nestLock: nestLock, from: callerAddress)
  }

  /// `lock(nestLock:)` of any lock type, so that code generic over
  /// `KernelLock` builds with validation as without: a nest lock that is
  /// not validated serializes nothing the validator knows of, and the
  /// lock is taken as by `lock()`.
  public final func lock(nestLock: some KernelLock) {
    let ip = callerAddress
    guard let validated = nestLock as? ValidatedLock else { return lock(from: ip) }
    lock(nestLock: validated, from: ip)
  }

  /// `lock(nestLock:)` of a map that is not validated (a release build's
  /// `LockdepMap`), so that such code builds in every build: it
  /// serializes nothing the validator knows of, and the lock is taken as
  /// by `lock()`.
  public final func lock(nestLock: Plain.LockdepMap) { lock(from: callerAddress) }

  /// Releases the lock (`spin_unlock()`); a release of a lock this
  /// thread does not hold is a `bad-unlock-balance` finding.
  public final func unlock() {
    if tryValidateReleaseFast() { return word.unlock() }
    unlockValidatingFully(ip: callerAddress)
  }

  @inline(never)
  final func unlockValidatingFully(ip: UInt64) {
    validateRelease(ip: ip)
    word.unlock()
  }

  /// Takes the lock if it is free now (`spin_trylock()`).
  /// - Returns: whether it was taken. A trylock cannot wait: it adds no
  ///   dependency on the locks held, and is no invalid wait context.
  public final func tryLock() -> Bool {
    guard word.tryLock() else { return false }
    validateAcquire(trylock: true)
    return true
  }

  /// `spin_trylock()` recorded at call site `ip`.
  final func tryLock(from ip: UInt64) -> Bool {
    guard word.tryLock() else { return false }
    validateAcquire(trylock: true, ip: ip)
    return true
  }
}

/// Called by the deinitializers of the validated lock classes that store a
/// `~Copyable` lock word: a private function keeps those deinitializers
/// from being inlined into clients. Swift 6.3's optimizer crashes ("Found
/// outside of lifetime use", on `drop_deinit` of the word's `Atomic`) when
/// it inlines one into a module built with `-enable-testing` and `-O`, as
/// `swift test -c release` builds a user's package with the `Validation`
/// trait.
@inline(never)
private func keepDeinitializerOutOfClients() {}
