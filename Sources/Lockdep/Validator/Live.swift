import CLockdepSupport
import LockGraph
import Synchronization
import WaitContext

/// The calls the instrumented locks and context markers make into the
/// process-wide validator. Each finds the calling thread's `LiveThread`
/// (one thread-local load) and hands it one event; nothing here takes a
/// lock or allocates once the thread's state exists.
enum Live {
  /// Set while `LockValidation.policy` is `off`: no event is validated.
  static let off = Atomic<Bool>(false)
  /// Set in a child of `fork()` without `exec` (with `off`, for good): the
  /// validator's locks may be held by threads it did not inherit, so it
  /// takes none of them, nor registers a lock's class.
  static let forkedChild = Atomic<Bool>(false)
  /// Set once a lock was made past the class table (with `off`, for good,
  /// as lockdep turns itself off there): locks made since at a new place
  /// have no class (one made again at a place its thread made a lock at
  /// recently finds the class it had, `RecentSites`; nothing is validated
  /// either way).
  static let classTableFull = Atomic<Bool>(false)

  /// Runs `body` with the calling thread's state, without reference
  /// counting it; not at all while validation is off or this thread is
  /// inside the validator already (a signal handler interrupted it).
  ///
  /// In a signal handler installed through Lockdep, events are not
  /// validated but queued (`deferred`), and validated before the thread's
  /// next event outside the handler: the validator allocates, and the
  /// signal may have interrupted `malloc`. On a thread without state yet,
  /// a handler's event (`orphan`, built for thread id -1) is queued in
  /// static thread-local memory instead (`OrphanEvents`).
  @inline(__always)
  static func withThread(orphan: () -> LockEvent?, _ body: (LiveThread) -> Void) {
    if off.load(ordering: .relaxed) { return }
    if let raw = rlc_lockdep_thread() {
      Unmanaged<LiveThread>.fromOpaque(raw)._withUnsafeGuaranteedRef { thread in
        if thread.deferred.needsReplay && thread.signalDepth == 0 && !thread.busy {
          thread.replayDeferred()
        }
        body(thread)
      }
    } else if rlc_lockdep_signal_depth() == 0 {
      if let thread = LiveThread.create() { body(thread) }
    } else if LiveValidator.isCreated, let event = orphan() {
      OrphanEvents.queue(event)
    }
  }

  /// The calling thread's state for a validation scope that runs on it;
  /// nil while validation is off, in a signal handler, or inside the
  /// validator.
  static func scopeThread() -> LiveThread? {
    guard !off.load(ordering: .relaxed), rlc_lockdep_signal_depth() == 0 else { return nil }
    return LiveThread.current()
  }

  /// `scopeThread()`, but nil too when the thread has no state yet (it has
  /// taken no lock).
  static func scopeThreadIfMade() -> LiveThread? {
    guard !off.load(ordering: .relaxed), rlc_lockdep_signal_depth() == 0,
      let raw = rlc_lockdep_thread()
    else { return nil }
    let thread = Unmanaged<LiveThread>.fromOpaque(raw).takeUnretainedValue()
    return thread.busy ? nil : thread
  }

  /// Starts the validator (outside a signal handler), if not yet started.
  static func start() {
    if !forkedAfterStart { _ = LiveValidator.shared }
  }

  /// Whether this is a child of a fork made after the validator began to
  /// be made (maybe before it was done, so before its own fork handler
  /// existed): then, as in any child forked after that, nothing is
  /// validated, and `LiveValidator.shared` must not be asked for.
  static var forkedAfterStart: Bool {
    guard rlc_lockdep_forked_after_start() != 0 else { return false }
    forkedChild.store(true, ordering: .relaxed)
    off.store(true, ordering: .relaxed)
    return true
  }

  /// The thread id of an event queued before its thread had state.
  static let orphanThread = ThreadID(-1)

  /// Validates this thread's queued signal-handler events now (a scope
  /// ending, findings being read), when not in a handler itself.
  static func replayPending() {
    guard rlc_lockdep_signal_depth() == 0 else { return }
    guard let raw = rlc_lockdep_thread() else {
      // Handlers ran on this thread before it had state: create it now.
      if OrphanEvents.isPending && !off.load(ordering: .relaxed) { _ = LiveThread.create() }
      return
    }
    Unmanaged<LiveThread>.fromOpaque(raw)._withUnsafeGuaranteedRef { thread in
      if thread.deferred.needsReplay && !thread.busy { thread.replayDeferred() }
    }
  }

  /// A signal handler installed through Lockdep starts (`entering`) or
  /// returns on this thread.
  ///
  /// The thread's copy of the depth is read back from the C counter after
  /// that counter changed, on entry and on return alike: a handler for
  /// another signal that interrupts this one between the two then leaves
  /// both as it found them (a copy computed before the counter changed
  /// would be put back stale by such a handler, and stay wrong).
  static func signalHandler(entering: Bool) {
    if entering { rlc_lockdep_enter_signal() } else { rlc_lockdep_leave_signal() }
    if let raw = rlc_lockdep_thread() {
      Unmanaged<LiveThread>.fromOpaque(raw)._withUnsafeGuaranteedRef { thread in
        thread.signalDepth = rlc_lockdep_signal_depth()
        rlc_signal_fence()
      }
    }
  }

  /// A signal handler's acquisition waited a while for the lock at
  /// `instance`: when this thread holds it (the code the handler
  /// interrupted took it), the handler will wait for ever
  /// (`LiveThread.reportHandlerDeadlock(lockName:)`). Allocates nothing until it
  /// knows that.
  static func handlerWaitsForever(for instance: UInt64, lockName: String) {
    guard !off.load(ordering: .relaxed), let raw = rlc_lockdep_thread() else { return }
    Unmanaged<LiveThread>.fromOpaque(raw)._withUnsafeGuaranteedRef { thread in
      if thread.busy { return thread.sayHandlerWaitsInValidator(lockName: lockName) }
      guard thread.validator.holdsInstance(instance) else { return }
      thread.reportHandlerDeadlock(lockName: lockName)
    }
  }

  /// The outermost signal handler on this thread returned.
  static func endHandlerRun() {
    guard let raw = rlc_lockdep_thread() else {
      OrphanEvents.endRun()
      return
    }
    Unmanaged<LiveThread>.fromOpaque(raw)._withUnsafeGuaranteedRef { $0.endHandlerRun() }
  }

  /// Processes `event` on `thread` now, or, in a signal handler, queues it.
  @inline(__always)
  static func submit(_ event: LockEvent, on thread: LiveThread) {
    if thread.signalDepth > 0 {
      thread.deferEvent(event)
    } else {
      thread.process(event)
    }
  }

  /// The fast path alone, for a plain acquisition: true when it is done
  /// (validated as a chain seen before, or validation is off), false when
  /// the full `acquire` must run. Calls nothing, so that a lock function
  /// whose slow path is a tail call saves no registers on its fast path.
  @inline(__always)
  static func tryAcquireFast(_ lockClass: ClassID, instance: UInt64, read: ReadMode, ip: UInt64)
    -> Bool
  {
    onCurrentThread { $0.tryAcquireFast(lockClass, instance: instance, read: read, ip: ip) }
  }

  /// `tryAcquireFast` for a memoized acquisition only: the part a lock
  /// function inlines (`ThreadValidator.acquireMemoized`).
  @inline(__always)
  static func tryAcquireMemoized(
    _ lockClass: ClassID, instance: UInt64, read: ReadMode, ip: UInt64
  ) -> Bool {
    onCurrentThread { $0.tryAcquireMemoized(lockClass, instance: instance, read: read, ip: ip) }
  }

  /// The fast path alone, for a release: true when it is done.
  @inline(__always)
  static func tryReleaseFast(_ lockClass: ClassID, instance: UInt64) -> Bool {
    onCurrentThread { $0.tryReleaseFast(lockClass, instance: instance) }
  }

  /// `body` on the calling thread's state, without reference counting it:
  /// true (done) while validation is off, false when the thread has no
  /// state yet.
  @inline(__always)
  private static func onCurrentThread(_ body: (LiveThread) -> Bool) -> Bool {
    if off.load(ordering: .relaxed) { return true }
    guard let raw = rlc_lockdep_thread() else { return false }
    return Unmanaged<LiveThread>.fromOpaque(raw)._withUnsafeGuaranteedRef(body)
  }

  @inline(__always)
  static func acquire(
    _ lockClass: ClassID, instance: UInt64, read: ReadMode, trylock: Bool, subclass: UInt8,
    nest: ClassID, ip: UInt64
  ) {
    withThread(orphan: {
      LockEvent(
        .acquire, thread: orphanThread, lockClass: lockClass, read: read, isTrylock: trylock,
        subclass: subclass, nest: nest, address: instance, origin: Origin(ip: ip))
    }) { thread in
      if subclass == 0 && nest == .none && !trylock && thread.signalDepth == 0 {
        thread.acquire(lockClass, instance: instance, read: read, ip: ip)
      } else {
        submitAcquire(
          lockClass, instance: instance, read: read, trylock: trylock, subclass: subclass,
          nest: nest, ip: ip, on: thread)
      }
    }
  }

  /// `lock(subclass:)` outside 0...7: lockdep's "BUG: looking up invalid
  /// subclass", a `limit-exceeded` finding (`MAX_LOCKDEP_SUBCLASSES`). The
  /// acquisition is left out, and its unlock with it: neither is validated
  /// or recorded (a trace has no way to say such a subclass). Unlike the
  /// kernel, which turns itself off there, the thread stays validated: a
  /// test runner's thread runs later tests too.
  @inline(never)
  static func invalidSubclass(_ subclass: Int, lockClass: ClassID, instance: UInt64, ip: UInt64) {
    // A marker event, queued with a signal handler's events (in order, its
    // unlock with it; also before the thread has state) or processed now.
    func marker(_ thread: ThreadID) -> LockEvent {
      LockEvent(
        .acquire, thread: thread, lockClass: lockClass,
        subclass: LiveThread.invalidSubclassMarker, address: instance,
        length: UInt64(bitPattern: Int64(subclass)), origin: Origin(ip: ip))
    }
    withThread(orphan: { marker(orphanThread) }) { thread in
      submit(marker(thread.id), on: thread)
    }
  }

  /// An acquisition the fast path does not take (subclass, nest lock,
  /// trylock, or in a signal handler), as a full event; out of line so
  /// that every lock function stays small.
  @inline(never)
  static func submitAcquire(
    _ lockClass: ClassID, instance: UInt64, read: ReadMode, trylock: Bool, subclass: UInt8,
    nest: ClassID, ip: UInt64, on thread: LiveThread
  ) {
    submit(
      LockEvent(
        .acquire, thread: thread.id, lockClass: lockClass, read: read, isTrylock: trylock,
        subclass: subclass, nest: nest, address: instance, origin: Origin(ip: ip)),
      on: thread)
  }

  @inline(__always)
  static func release(_ lockClass: ClassID, instance: UInt64, ip: UInt64) {
    withThread(orphan: {
      LockEvent(
        .release, thread: orphanThread, lockClass: lockClass, address: instance,
        origin: Origin(ip: ip))
    }) { thread in
      if thread.signalDepth == 0 {
        thread.release(lockClass, instance: instance, ip: ip)
      } else {
        submitRelease(lockClass, instance: instance, ip: ip, on: thread)
      }
    }
  }

  /// A release in a signal handler, as a full event (queued); out of line.
  @inline(never)
  static func submitRelease(
    _ lockClass: ClassID, instance: UInt64, ip: UInt64, on thread: LiveThread
  ) {
    submit(
      LockEvent(
        .release, thread: thread.id, lockClass: lockClass, address: instance,
        origin: Origin(ip: ip)),
      on: thread)
  }

  /// An event without a class (contexts, might-sleep, exit), from return
  /// address `ip` when known (a context scope's call site, which a report
  /// prints where interrupts were last turned off or on).
  @inline(__always)
  static func event(_ verb: LockEvent.Verb, threaded: Bool = false, ip: UInt64 = 0) {
    let origin = Origin(ip: ip)
    withThread(orphan: {
      LockEvent(verb, thread: orphanThread, threaded: threaded, origin: origin)
    }) { thread in
      submit(LockEvent(verb, thread: thread.id, threaded: threaded, origin: origin), on: thread)
    }
  }

  /// `might_lock()`: checks an acquisition of `lockClass` without taking it.
  static func mightLock(_ lockClass: ClassID, read: ReadMode, ip: UInt64 = 0) {
    let origin = Origin(ip: ip)
    withThread(orphan: {
      LockEvent(.mightLock, thread: orphanThread, lockClass: lockClass, read: read, origin: origin)
    }) { thread in
      submit(
        LockEvent(.mightLock, thread: thread.id, lockClass: lockClass, read: read, origin: origin),
        on: thread)
    }
  }

  /// Memory at `address` is being freed (or a lock there re-initialized),
  /// by the function whose return address is `caller` (0: unknown), where
  /// the free's stack starts.
  static func freed(address: UInt64, length: UInt64, caller: UInt64 = 0) {
    guard LiveValidator.isCreated else { return }
    withThread(orphan: {
      LockEvent(.free, thread: orphanThread, address: address, length: length)
    }) { thread in
      if thread.signalDepth == 0 { thread.freeCaller = caller }
      submit(LockEvent(.free, thread: thread.id, address: address, length: length), on: thread)
    }
  }

  /// Whether the calling thread holds the lock; nil when validation is off.
  static func isHeld(_ lockClass: ClassID, instance: UInt64) -> Bool? {
    guard let thread = LiveThread.current() else { return nil }
    return thread.holds(lockClass, instance: instance)
  }
}
