import CLockdepSupport
import LockGraph
import WaitContext

#if canImport(Glibc)
  import Glibc
#endif

/// What every validated lock shares: its lock class and the calls into the
/// process-wide validator around each operation. The lock types of
/// `Checked` are final subclasses that add the lock itself.
///
/// The instance address (this object's) tells locks of one class apart, as
/// the kernel's `lockdep_map` address does.
public class ValidatedLock: @unchecked Sendable {
  /// The lock's class in the validator (its declared class, subclass 0).
  let lockClass: ClassID
  /// The name reports print for the lock's class: the name of the
  /// class's first lock (a class keeps it: a later lock made on the same
  /// line or with the same `LockClassKey` under another name is printed by
  /// it), with lockdep's `#2` for a later class of the same name.
  public let className: String

  init(
    kind: LockKind, waits: ClassWaitTypes? = nil, name: String?, key: LockClassKey?,
    fileID: String, line: Int, column: Int
  ) {
    // A child forked while the validator was being made validates nothing,
    // and must not wait for it.
    // Nor in a signal handler, which changes no validator state: it may
    // have interrupted this thread's `remember`.
    let thread =
      Live.forkedAfterStart || rlc_lockdep_signal_depth() > 0 ? nil : LiveThread.existing()
    if let known = thread?.recentSites.lookup(
      kind: kind, name: name, keyName: key?.name, fileID: fileID, line: line, column: column)
    {
      (lockClass, className) = known
      return
    }
    let site = LockClassSite(
      kind: kind, name: name, key: key, fileID: fileID, line: line, column: column)
    lockClass =
      Live.forkedAfterStart
      ? .none : LiveValidator.shared.registerClass(site: site, kind: kind, waits: waits)
    className =
      lockClass == .none ? site.name : LiveValidator.shared.core.classes.displayName(lockClass)
    if lockClass != .none {
      thread?.recentSites.remember(
        kind: kind, name: name, keyName: key?.name, fileID: fileID, line: line, column: column,
        lockClass: lockClass, className: className)
    }
  }

  deinit {
    // The object's bytes, as the kernel's report gives the range freed
    // (it said `X-X`, one byte): its class's instance size, not its heap
    // block's (`malloc_usable_size`), since an optimized build may put an
    // object that does not escape on the stack, where asking `malloc`
    // about it crashed.
    let size = swiftClassInstanceExtents(type(of: self)).positive
    Live.freed(address: instance, length: UInt64(max(size, 1)), caller: callerAddress)
  }

  /// Takes the lock with `tryAcquire`, else with `acquire` (which waits),
  /// once validated. In a signal handler installed with
  /// `installSignalHandler` (a hard interrupt) it first tries for a
  /// while (`handlerGraceNanoseconds`): a lock still held then by the code
  /// the handler interrupted is one it will never release, as a kernel
  /// interrupt handler spins for ever on a lock its CPU's task holds.
  /// Lockdep reports that acquisition before the CPU spins; here the
  /// handler's events wait to be validated until it returns, which it
  /// never does, so they are validated then (`Live.handlerWaitsForever`),
  /// and the handler waits as it would have. Outside a handler, one
  /// thread-local load more than `acquire` alone.
  @inline(__always)
  final func take(_ tryAcquire: () -> Bool, _ acquire: () -> Void) {
    if rlc_lockdep_signal_depth() > 0, takeInSignalHandler(tryAcquire) { return }
    acquire()
  }

  /// `take`'s wait in a signal handler: true once `tryAcquire` took the
  /// lock; false, for the caller to wait, when the grace is over (the
  /// handler will wait for ever when the interrupted code holds it, and
  /// that was reported).
  @inline(never)
  final func takeInSignalHandler(_ tryAcquire: () -> Bool) -> Bool {
    var start = timespec()
    clock_gettime(CLOCK_MONOTONIC, &start)
    while true {
      if tryAcquire() { return true }
      var now = timespec()
      clock_gettime(CLOCK_MONOTONIC, &now)
      let waited = (now.tv_sec - start.tv_sec) * 1_000_000_000 + (now.tv_nsec - start.tv_nsec)
      if waited >= Self.handlerGraceNanoseconds { break }
      sched_yield()
    }
    Live.handlerWaitsForever(for: instance, lockName: className)
    return false
  }

  /// How long a signal handler's acquisition waits before it asks whether
  /// the code it interrupted holds the lock: long enough that another
  /// thread's critical section has ended (most waits end within it, and
  /// ask nothing).
  static let handlerGraceNanoseconds = 50_000_000

  /// The address the validator knows this lock by.
  @inline(__always)
  var instance: UInt64 { UInt64(UInt(bitPattern: ObjectIdentifier(self))) }

  /// `validateAcquire(read:trylock:subclass:nest:ip:)` from the lock
  /// operation that calls this, at its call site (as `callerAddress`).
  #if DEBUG
    @inline(never)
    final func validateAcquire(
      read: ReadMode = .exclusive, trylock: Bool = false, subclass: Int = 0,
      nest: ValidatedLock? = nil
    ) {
      validateAcquire(
        read: read, trylock: trylock, subclass: subclass, nest: nest,
        ip: UInt64(UInt(bitPattern: rlc_return_address_of_caller())))
    }
  #else
    @inline(__always)
    final func validateAcquire(
      read: ReadMode = .exclusive, trylock: Bool = false, subclass: Int = 0,
      nest: ValidatedLock? = nil
    ) {
      validateAcquire(
        read: read, trylock: trylock, subclass: subclass, nest: nest,
        ip: UInt64(UInt(bitPattern: rlc_return_address())))
    }
  #endif

  @inline(__always)
  final func validateAcquire(
    read: ReadMode = .exclusive, trylock: Bool = false, subclass: Int = 0,
    nest: ValidatedLock? = nil, ip: UInt64
  ) {
    if subclass < 0 || subclass >= ClassRegistry.subclasses {
      return Live.invalidSubclass(subclass, lockClass: lockClass, instance: instance, ip: ip)
    }
    Live.acquire(
      lockClass, instance: instance, read: read, trylock: trylock,
      subclass: UInt8(clamping: subclass), nest: nest?.lockClass ?? .none, ip: ip)
  }

  /// The return address of the lock operation that reads this: the
  /// acquisition's `ip`, the operation's call site (lockdep's `_RET_IP_`).
  /// An optimized build inlines this into the operation, whose return
  /// address it is. A debug build inlines nothing, so this is a frame of
  /// its own, called by the operation: the site is one frame up. (The
  /// fast path keeps this address alone for a held lock, and prints it as
  /// the lock's `at:`: without the second form, a debug build's held locks
  /// pointed into this module once their chains were cached.)
  #if DEBUG
    @inline(never)
    final var callerAddress: UInt64 {
      UInt64(UInt(bitPattern: rlc_return_address_of_caller()))
    }
  #else
    @inline(__always)
    final var callerAddress: UInt64 { UInt64(UInt(bitPattern: rlc_return_address())) }
  #endif

  /// A plain acquisition's fast path alone (see `Live.tryAcquireFast`).
  @inline(__always)
  final func tryValidateAcquireFast(read: ReadMode = .exclusive, ip: UInt64) -> Bool {
    Live.tryAcquireFast(lockClass, instance: instance, read: read, ip: ip)
  }

  /// A plain acquisition's memoized fast path alone (see
  /// `Live.tryAcquireMemoized`).
  @inline(__always)
  final func tryValidateAcquireMemoized(read: ReadMode = .exclusive, ip: UInt64) -> Bool {
    Live.tryAcquireMemoized(lockClass, instance: instance, read: read, ip: ip)
  }

  /// A release's fast path alone (see `Live.tryReleaseFast`).
  @inline(__always)
  final func tryValidateReleaseFast() -> Bool {
    Live.tryReleaseFast(lockClass, instance: instance)
  }

  /// A release from call site `ip` (the unlock's return address, as
  /// `callerAddress` reads it in the operation): the event's `ip`, where
  /// its stack is cut (`LiveThread.captureStack`), so that a stray
  /// unlock's occurrences share one stack whichever path inside the
  /// validator captured it (the thread's first event takes another), and
  /// are one finding.
  @inline(__always)
  final func validateRelease(ip: UInt64) {
    Live.release(lockClass, instance: instance, ip: ip)
  }

  /// Stops the program unless the calling thread holds this lock
  /// (`lockdep_assert_held()`).
  public final func assertHeld(file: StaticString = #fileID, line: UInt = #line) {
    if Live.isHeld(lockClass, instance: instance) == false {
      fatalError("rawlockcheck: \(className) is not held by this thread", file: file, line: line)
    }
  }

  /// Stops the program if the calling thread holds this lock
  /// (`lockdep_assert_not_held()`).
  public final func assertNotHeld(file: StaticString = #fileID, line: UInt = #line) {
    if Live.isHeld(lockClass, instance: instance) == true {
      fatalError("rawlockcheck: \(className) is held by this thread", file: file, line: line)
    }
  }
}

/// The bytes of an instance of `theClass` before and after its address: the
/// Swift runtime's own answer, which the standard library asks too
/// (`_class_getInstancePositiveExtentSize`, internal to it); no public API
/// gives a class's instance size.
@_silgen_name("_swift_getSwiftClassInstanceExtents")
private func swiftClassInstanceExtents(_ theClass: AnyClass) -> (negative: UInt, positive: UInt)
