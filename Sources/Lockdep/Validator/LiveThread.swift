import CLockdepSupport
import LockGraph
import Symbolizer
import WaitContext

#if canImport(Glibc)
  import Glibc
#endif

/// One thread's validation in a live program: its `ThreadValidator`, the
/// buffer its stacks are captured into, and its trace recording.
///
/// Owned by its thread: found through a thread-local pointer, created on
/// the thread's first event, and ended (locks still held are reported, the
/// recording flushed) by a pthread key destructor when the thread exits.
///
/// Invariants:
/// - only its own thread, and signal handlers running on it, touch it;
/// - `busy` is set while the validator's full path runs, which is not
///   re-entrant (lockdep gets the same by running with interrupts off);
///   events of a signal handler are never validated in the handler but
///   queued (`deferred`) and validated once it has returned and `busy` is
///   clear; the fast path sets it too (see `fastPath`), so that a handler
///   the validator does not know as one (installed with `signal()`) queues
///   its events there as well.
final class LiveThread: StackSource {
  let id: ThreadID
  @exclusivity(unchecked) var validator: ThreadValidator
  @exclusivity(unchecked) var busy = false
  /// Why events may not take the fast path now, `busy` apart.
  @exclusivity(unchecked) var gate = FastPathGate()
  /// Where stacks are captured before interning.
  let stackBuffer = UnsafeMutableBufferPointer<UInt64>.allocate(capacity: 64)
  /// This thread's trace recording, when the process records.
  @exclusivity(unchecked) var recording: ThreadRecording?
  /// The first stack captured while the current event was validated: the
  /// recorded event carries it (`at=`).
  @exclusivity(unchecked) var eventStack = StackID.none
  /// The return address of the lock call of the event being validated (0:
  /// none): a stack captured for it starts at that frame
  /// (`captureStack()`), whatever path inside the validator captured it.
  @exclusivity(unchecked) var eventIP: UInt64 = 0
  /// The return address of the lock's `deinit` for the free `Live.freed`
  /// submits next (0: none): its stack starts there (`eventIP`), not in
  /// the validator's frames of the finding that captured it (a lock freed
  /// below a held one takes those again, `reacquire`, and a finding made
  /// then began with the validator's own frames).
  @exclusivity(unchecked) var freeCaller: UInt64 = 0
  /// Events of signal handlers, waiting to be validated.
  @exclusivity(unchecked) var deferred = DeferredEvents()
  /// The event being validated, while it is and the process records: it
  /// is recorded once validated (with `eventStack`), or before then by
  /// `recordCurrentEvent()` when a finding ends the process.
  @exclusivity(unchecked) var unrecorded: LockEvent?
  /// Locks taken with an invalid subclass (`invalidSubclass`), newest
  /// last: not validated, so their releases are left out too. (Locks a
  /// scope's end reported held and forgot are the core's, `forgetHeld`:
  /// their task may release them on another thread.)
  @exclusivity(unchecked) var unvalidated: [(lockClass: ClassID, instance: UInt64)] = []
  /// The `subclass` of an acquire event that stands for an acquisition
  /// with an invalid subclass (the subclass itself in its `length`): so
  /// that one in a signal handler is queued with the handler's events, in
  /// order (its unlock with it), and handled when they are replayed.
  static let invalidSubclassMarker: UInt8 = 0xFF
  /// The stack a replayed event was taken from: `captureStack()` gives it
  /// instead of the stack of the replay.
  @exclusivity(unchecked) var replayStack: UnsafeBufferPointer<UInt64>?
  /// While a routed job runs on this thread (`ScopeExecutor`): a release
  /// of a lock it does not hold may be of one a job that just ended on
  /// another thread left held, and is about to report and forget.
  @exclusivity(unchecked) var inRoutedJob = false
  /// While a routed job of no task (an actor's) runs here
  /// (`gate.inNoTaskJob`): the scope bound where the thread last took a
  /// lock holding none, the test whose task the actor ran then; locks the
  /// job leaves held are that test's finding.
  @exclusivity(unchecked) var noTaskJobScope: LockValidationScope?
  /// The executor whose routed job runs on this thread (`ScopeExecutor`),
  /// if any.
  @exclusivity(unchecked) var routedJobExecutor: ObjectIdentifier?
  /// Whether that job is a task's (not an actor's).
  @exclusivity(unchecked) var routedJobIsTasks = false
  /// The classes of the last places this thread made a lock at.
  @exclusivity(unchecked) var recentSites = RecentSites()

  init(validator: LiveValidator, name: String) {
    let token = String(LiveThread.systemThreadID())
    id = validator.core.registerThread(token: token, name: name)
    self.validator = ThreadValidator(core: validator.core, thread: id)
    recording = validator.recorder?.recording(thread: id, token: token, name: name)
    gate.recording = recording != nil
    self.validator.stackSource = self
    // Warm the stack walker's per-thread bounds now: its first use
    // allocates, and a signal handler's events are captured without that.
    _ = StackCapture.capture(into: stackBuffer, skip: 0)
  }

  deinit {
    stackBuffer.deallocate()
    deferred.deallocate()
  }

  /// The calling thread's state; created on first use. Nil while validation
  /// is off, or while this thread is inside the validator already.
  @inline(__always)
  static func current() -> LiveThread? {
    if let raw = rlc_lockdep_thread() {
      let thread = Unmanaged<LiveThread>.fromOpaque(raw).takeUnretainedValue()
      return thread.busy ? nil : thread
    }
    return create()
  }

  /// The calling thread's state if it has one and is not inside the
  /// validator; never makes one (`current` does: a thread's state takes
  /// the thread's name when made, which a thread that makes a lock and
  /// names itself after must not have taken then).
  static func existing() -> LiveThread? {
    guard let raw = rlc_lockdep_thread() else { return nil }
    let thread = Unmanaged<LiveThread>.fromOpaque(raw).takeUnretainedValue()
    return thread.busy ? nil : thread
  }

  @inline(never)
  static func create() -> LiveThread? {
    if Live.forkedAfterStart { return nil }
    let validator = LiveValidator.shared
    guard validator.policy != .off else { return nil }
    let thread = LiveThread(validator: validator, name: currentThreadName())
    let raw = Unmanaged.passRetained(thread).toOpaque()
    rlc_lockdep_set_thread(raw)
    pthread_setspecific(exitKey, raw)
    if OrphanEvents.isPending { thread.replayOrphans() }
    return thread
  }

  /// Validates (and records) one event of this thread; queues it when the
  /// thread is inside the validator already (`busy`), which only a signal
  /// handler that is not Lockdep's (installed with `signal()` or
  /// `sigaction()`) can be in, having interrupted it: validated in the
  /// handler, it would change the state the interrupted validator is
  /// changing, or wait for a lock it holds (the recorder's, the
  /// symbolizer's: an independent trial's hangs). It is validated with the
  /// thread's next event, as an installed handler's are, as though taken
  /// in task context (such a handler is not known as one).
  @inline(__always)
  func process(_ event: LockEvent) {
    if busy { return deferEvent(event) }
    if event.verb == .acquire && event.subclass == Self.invalidSubclassMarker {
      invalidSubclass(
        Int(Int64(bitPattern: event.length)),
        of: validator.core.classes[event.lockClass].name, lockClass: event.lockClass,
        instance: event.address, ip: event.origin.ip)
      return
    }
    if !unvalidated.isEmpty {
      if event.verb == .release && leaveOutRelease(event) { return }
      if event.verb == .free {
        // Memory freed: a lock in it left out earlier is gone, and a later
        // lock at its address is another.
        // As `ThreadValidator.lies`: a range that reaches the top of the
        // address space has no end in 64 bits.
        unvalidated.removeAll { $0.instance &- event.address < event.freedLength }
      }
    }
    if gate.inNoTaskJob && event.verb == .acquire && validator.heldCount == 0 {
      let scope = LockValidationScope.current
      if scope !== noTaskJobScope {
        // Counted while the job may leave its locks held, till its end is
        // checked (`ScopeExecutor.jobEnded`).
        noTaskJobScope?.noTaskJobsHoldingLocks.subtract(1, ordering: .relaxed)
        scope?.noTaskJobsHoldingLocks.add(1, ordering: .relaxed)
        noTaskJobScope = scope
      }
    }
    busy = true
    rlc_signal_fence()
    if recording != nil { unrecorded = event }
    eventIP = event.origin.ip != 0 || event.verb != .free ? event.origin.ip : freeCaller
    freeCaller = 0
    do {
      try validator.process(event)
    } catch {
      LiveValidator.shared.misuse("\(error.message)", thread: id)
    }
    if gate.inNoTaskJob, validator.heldCount == 0, let scope = noTaskJobScope {
      // The job holds none of the test's locks any more: its test need
      // not wait for its end (an actor busy with other tasks' work).
      scope.noTaskJobsHoldingLocks.subtract(1, ordering: .releasing)
      noTaskJobScope = nil
    }
    recordCurrentEvent()
    eventStack = .none
    eventIP = 0
    rlc_signal_fence()
    busy = false
  }

  /// The end of `scope` (a test) on this thread while it holds `taken`,
  /// locks taken in it (`locksTaken(since:)`): a finding of the bound
  /// scope (`ThreadValidator.reportLocksHeld`), with this stack. Live
  /// only: a trace has no scopes. The locks are then forgotten
  /// (`forget(_:)`).
  func reportLocksHeld(_ taken: [HeldLock], atEndOf scope: String) {
    guard let newest = taken.last else { return }
    inValidator {
      // The finding's stack is the newest lock's acquisition, not the
      // scope's end (the scope's and the test framework's frames;
      // `lockdep_sys_exit()` prints none): its stack, or, for a lock taken on
      // a chain the validator knew (no stack captured), the one frame of its
      // call, captured from `replayStack`.
      var ip = newest.origin.stack.isNone ? newest.origin.ip : 0
      withUnsafePointer(to: &ip) { one in
        if one.pointee != 0 { replayStack = UnsafeBufferPointer(start: one, count: 1) }
        let origin = newest.origin.stack.isNone ? Origin() : newest.origin
        validator.reportLocksHeld(taken, atEndOf: scope, origin: origin)
        replayStack = nil
      }
    }
    forget(taken)
  }

  /// The locks this thread holds now that it did not hold as `before`
  /// (its held locks then, oldest first), oldest first: those taken since,
  /// told apart by lock (class and instance), not by count, since a lock
  /// held before may have been released in between and another taken. A
  /// lock held before, released and taken again (a wait's unlock and
  /// lock, at another line) is still the one held before (a review's: its
  /// origin made it new). Allocates nothing when both are empty.
  func locksTaken(since before: [HeldLock]) -> [HeldLock] {
    guard validator.heldCount > 0 else { return [] }
    guard !before.isEmpty else { return validator.heldLocks }
    var unmatched = before
    return validator.heldLocks.filter { held in
      guard
        let i = unmatched.firstIndex(where: {
          $0.instance == held.instance && $0.lockClass == held.lockClass
        })
      else { return true }
      unmatched.remove(at: i)
      return false
    }
  }

  /// Releases `taken` (some of the held locks, oldest first), newest first,
  /// in the validator (and the trace) only, once reported: the program
  /// still holds them, but what this thread does next (the next test on a
  /// test runner's thread) is not validated under them, which would blame
  /// it for them again and again (lockdep turns itself off after this
  /// report: `lockdep_sys_exit()` calls `debug_locks_off()`). The core
  /// keeps them (`ValidatorCore.forget`): their real release, if one
  /// comes, on any thread, is no finding and is left out of the trace.
  private func forget(_ taken: [HeldLock]) {
    // A merged nest-lock entry stands for several acquisitions (its
    // `references`): each release drops one, and the entry goes with the
    // last, when the count of held locks falls.
    for lock in taken.reversed() {
      let count = validator.heldCount
      var left = Int(lock.references) + 1
      while validator.heldCount == count, left > 0 {
        process(LockEvent(.release, thread: id, lockClass: lock.lockClass, address: lock.instance))
        left -= 1
      }
    }
    validator.core.forget(taken)
  }

  /// An acquisition with a subclass past `ClassRegistry.subclasses`: a
  /// finding, and the lock is left out (`unvalidated`). Called from
  /// `process` (a signal handler's is queued as a marker event first).
  private func invalidSubclass(
    _ subclass: Int, of name: String, lockClass: ClassID, instance: UInt64, ip: UInt64
  ) {
    unvalidated.append((lockClass, instance))
    inValidator {
      validator.reportInvalidSubclass(subclass, of: name, origin: Origin(ip: ip))
    }
  }

  /// A lock made here whose class the class table had no room for:
  /// reported (as lockdep's `BUG: MAX_LOCKDEP_KEYS too low!`, with the
  /// stack of the lock's making), after which the caller turns validation
  /// off, as lockdep turns itself off. A recording gets a `might-lock` of
  /// class `recorded` (declared past the table) with the stack.
  func classTableFull(name: String, recorded: ClassID) {
    inValidator {
      if recording != nil { unrecorded = LockEvent(.mightLock, thread: id, lockClass: recorded) }
      validator.reportClassTableFull(
        Origin(),
        consequence:
          "\(name): no class for this lock; validation of the whole process stopped here")
      recordCurrentEvent()
    }
  }

  /// Whether `release` is of a lock taken with an invalid subclass (and
  /// not held otherwise): it is then left out, as its acquisition was.
  private func leaveOutRelease(_ release: LockEvent) -> Bool {
    guard
      let i = unvalidated.lastIndex(where: {
        $0.lockClass == release.lockClass && $0.instance == release.address
      }), !holds(release.lockClass, instance: release.address, byReference: false)
    else { return false }
    unvalidated.remove(at: i)
    return true
  }

  /// Records the event being validated (`unrecorded`), with the stack
  /// captured for it so far; once only.
  func recordCurrentEvent() {
    guard var recorded = unrecorded, let recording else { return }
    if recorded.verb == .free && eventStack.isNone {
      // A free with its stack: a trace's reader checks it against every
      // thread's held locks, which the live validator does not (it checks
      // the caller's), so a finding there may be the reader's alone, and
      // its report names the line that freed (it said `no stack
      // recorded`). `captureStack()` records the event.
      _ = captureStack()
      return
    }
    unrecorded = nil
    // The release of a forgotten lock: the trace released it already.
    if validator.takeReleasedForgottenLock() { return }
    recorded.origin.stack = eventStack
    // A release's call site cuts its stack (`captureStack`), and is written
    // with it, where it starts; alone it would add 9 % to a binary trace
    // (17 % to text) and name only a frame, often Lockdep's own
    // (`withLock`'s unlock).
    if recorded.verb == .release { recorded.origin.ip = 0 }
    recording.record(recorded)
  }

  /// `recordCurrentEvent()` on the calling thread's state, if it has one:
  /// for a finding that ends the process (`RAWLOCKCHECK=abort`) in the
  /// middle of the event that caused it, so that the trace replays it.
  static func recordCallingThreadsEvent() {
    guard let raw = rlc_lockdep_thread() else { return }
    Unmanaged<LiveThread>.fromOpaque(raw).takeUnretainedValue().recordCurrentEvent()
  }

  /// A plain acquisition (no subclass, nest lock or trylock): the fast path
  /// when nothing is new and nothing is recorded, else a full event.
  @inline(__always)
  func acquire(_ lockClass: ClassID, instance: UInt64, read: ReadMode, ip: UInt64) {
    if tryAcquireFast(lockClass, instance: instance, read: read, ip: ip) { return }
    acquireSlow(lockClass, instance: instance, read: read, ip: ip)
  }

  /// `acquire`'s fast path only: true when done, false (nothing changed)
  /// when anything else must run (queued signal-handler events, a handler
  /// running, a recording, the validator already running on this thread,
  /// or a chain not seen before).
  @inline(__always)
  func tryAcquireFast(_ lockClass: ClassID, instance: UInt64, read: ReadMode, ip: UInt64) -> Bool {
    fastPath { $0.acquireFast(lockClass, instance: instance, read: read, ip: ip) }
  }

  /// `tryAcquireFast` for a memoized acquisition only
  /// (`ThreadValidator.acquireMemoized`).
  @inline(__always)
  func tryAcquireMemoized(_ lockClass: ClassID, instance: UInt64, read: ReadMode, ip: UInt64)
    -> Bool
  {
    fastPath { $0.acquireMemoized(lockClass, instance: instance, read: read, ip: ip) }
  }

  /// `release`'s fast path only (see `tryAcquireFast`).
  @inline(__always)
  func tryReleaseFast(_ lockClass: ClassID, instance: UInt64) -> Bool {
    fastPath { $0.releaseFast(lockClass, instance: instance) }
  }

  /// Runs a fast path `body` of the validator when nothing else must run
  /// first; false when something must, or when `body` declines.
  ///
  /// It sets `busy` while `body` runs: a signal handler installed through
  /// Lockdep that interrupts it changes nothing of the validator's state
  /// anyway (its events are queued, since `signalDepth` is above 0 there,
  /// and the gate then sends the thread's next event to the full path,
  /// which validates them first), but one installed with `signal()` or
  /// `sigaction()` is not known as a handler, and its events, validated in
  /// it, would push onto the held locks the interrupted fast path was
  /// changing (an independent trial's false `bad-unlock-balance`
  /// findings): with `busy` set they are queued as an installed handler's
  /// are (`process(_:)`). It must not run inside the full path, which has
  /// `busy` set too.
  @inline(__always)
  private func fastPath(_ body: (inout ThreadValidator) -> Bool) -> Bool {
    guard gate.isOpen, !busy else { return false }
    busy = true
    rlc_signal_fence()
    let done = body(&validator)
    rlc_signal_fence()
    busy = false
    return done
  }

  /// `acquire`'s full event, out of line so that the fast path's callers
  /// stay small (no event on their stack, few registers saved).
  @inline(never)
  func acquireSlow(_ lockClass: ClassID, instance: UInt64, read: ReadMode, ip: UInt64) {
    process(
      LockEvent(
        .acquire, thread: id, lockClass: lockClass, read: read, address: instance,
        origin: Origin(ip: ip)))
  }

  /// A release: the fast path when it is the newest lock and nothing is
  /// recorded, else a full event.
  @inline(__always)
  func release(_ lockClass: ClassID, instance: UInt64, ip: UInt64) {
    if tryReleaseFast(lockClass, instance: instance) { return }
    releaseSlow(lockClass, instance: instance, ip: ip)
  }

  /// `release`'s full event, out of line (see `acquireSlow`).
  @inline(never)
  func releaseSlow(_ lockClass: ClassID, instance: UInt64, ip: UInt64) {
    if inRoutedJob && !holds(lockClass, instance: instance) {
      ScopeExecutor.awaitEndChecks(releasing: lockClass, instance: instance, on: self)
    }
    process(
      LockEvent(
        .release, thread: id, lockClass: lockClass, address: instance, origin: Origin(ip: ip)))
  }

  /// Whether this thread holds `lockClass` at `instance` (any subclass):
  /// `byReference`, an entry of that class with references (locks merged
  /// under a nest lock) holds every instance of it, as lockdep's
  /// `match_held_lock()`; else only the entry's own instance counts.
  func holds(_ lockClass: ClassID, instance: UInt64, byReference: Bool = true) -> Bool {
    let classes = validator.core.classes.tables
    return validator.heldLocks.contains {
      classes.base($0.lockClass) == lockClass
        && ($0.instance == instance || byReference && $0.references > 0)
    }
  }

  // MARK: StackSource

  /// Captures this thread's stack now (or, for a replayed event of a
  /// signal handler, takes the stack it was queued with) and interns it;
  /// the event being processed is recorded with it.
  func captureStack() -> StackID {
    let addresses: UnsafeBufferPointer<UInt64>
    if let replayStack {
      // A handler's event queued without a frame (a thread whose stack
      // bounds were not known yet, an event with no call site): no stack.
      // Interned, the empty list would be a stack the recorder declares
      // not (a `stack` line lists addresses), named by the event's `at=`:
      // a trace no reader could read.
      guard !replayStack.isEmpty else { return .none }
      addresses = replayStack
    } else {
      let n = StackCapture.capture(into: stackBuffer, skip: 0)
      // From the lock call's frame: the validator's own frames above it
      // differ with the path that captured (a fast-path report, the slow
      // path), and one bug's occurrences must share one stack, its site
      // (spec/reports.md: the same kind, classes and stack is one finding).
      let start = eventIP == 0 ? nil : stackBuffer[..<n].firstIndex(of: eventIP)
      addresses = UnsafeBufferPointer(rebasing: stackBuffer[(start ?? 0)..<n])
    }
    let recorder = LiveValidator.shared.recorder
    let (stack, _) = LiveValidator.shared.stacks.intern(addresses) { id, addresses, modules in
      recorder?.declareStack(id, addresses: addresses, after: modules)
    }
    if eventStack.isNone {
      eventStack = stack
      // Recorded now, before the validator publishes what it found new
      // (a chain, a dependency): another thread that takes the chain as
      // known from then on records its event (without a stack) after this
      // one, so a reader meets the dependency here, with this stack.
      recordCurrentEvent()
    }
    return stack
  }

  // MARK: Thread exit

  // MARK: Signal handlers

  /// Queues an event of a signal handler (allocates nothing).
  @inline(never)
  func deferEvent(_ event: LockEvent) {
    deferred.append(
      event,
      startsRun: event.verb == .hardirqEnter && rlc_lockdep_signal_depth() == 1
        && !inHandlerRun)
    if event.verb == .hardirqEnter { inHandlerRun = true }
    gate.eventsDeferred = true
  }

  /// Whether a handler run is being queued.
  @exclusivity(unchecked) var inHandlerRun = false
  /// How deep this thread is in Lockdep's signal handlers: a copy of
  /// `rlc_lockdep_signal_depth()` kept beside `busy`, so the fast path
  /// reads no second thread-local variable.
  @exclusivity(unchecked) var signalDepth: Int32 = 0 {
    didSet { gate.inSignalHandler = signalDepth > 0 }
  }

  /// A signal handler on this thread waits for a lock that the code it
  /// interrupted holds (`Live.handlerWaitsForever`): it will wait for
  /// ever, and its queued events, validated only once it returns, would
  /// never be. Lockdep reports such an acquisition before the CPU spins;
  /// so the handler's run so far is validated now, its findings reported
  /// as any (the recursive acquisition, the irq usage), and the thread's
  /// recording written, so that a run killed for hanging keeps them.
  /// Called only where nothing of the validator runs on the thread
  /// (`busy` clear); its allocations are a risk the handler takes only
  /// because it cannot go on anyway (an interrupted `malloc` would keep
  /// it waiting there instead). A line on standard error says what
  /// happens, findings or not (checked as for PREEMPT_RT, a threaded
  /// handler's acquisition is no finding: the kernel's irq thread would
  /// just wait). The interrupted code may only be waiting for the lock
  /// (its acquisition is validated before it waits): the handler then
  /// gets the lock once its holder lets go, and returns; its findings,
  /// reported early, are lockdep's all the same. Once per handler run
  /// (`endHandlerRun` allows the next).
  func reportHandlerDeadlock(lockName: String) {
    guard !reportedHandlerDeadlock else { return }
    reportedHandlerDeadlock = true
    let message =
      "rawlockcheck: a signal handler has waited 50 ms for \(lockName), which the code it "
      + "interrupted holds or waits for: its events are validated now (if that code holds "
      + "it, the handler waits for ever)\n"
    _ = message.withCString { write(2, $0, strlen($0)) }
    deferred.closeRunInProgress()
    inHandlerRun = false
    replayDeferred()
    recording?.flush()
  }

  /// `Live.handlerWaitsForever` where the handler interrupted the
  /// validator itself (`busy`: while a trace is recorded, most of the
  /// time): the thread's state cannot be read, so whether the interrupted
  /// code holds the lock is not known, and nothing is validated. A line on
  /// standard error says what may happen, written without allocating (the
  /// validator may have been interrupted in `malloc`). Once per handler
  /// run, as `reportHandlerDeadlock(lockName:)`.
  func sayHandlerWaitsInValidator(lockName: String) {
    guard !reportedHandlerDeadlock else { return }
    reportedHandlerDeadlock = true
    let start: StaticString = "rawlockcheck: a signal handler has waited 50 ms for "
    // One literal: a `StaticString` is not concatenated.
    // swift-format-ignore
    let end: StaticString = ", and the code it interrupted was inside the validator: not validated (if that code holds the lock, the handler waits for ever)\n"
    _ = write(2, start.utf8Start, start.utf8CodeUnitCount)
    _ = lockName.utf8.withContiguousStorageIfAvailable { write(2, $0.baseAddress, $0.count) }
    _ = write(2, end.utf8Start, end.utf8CodeUnitCount)
  }

  /// Whether `reportHandlerDeadlock(lockName:)` or
  /// `sayHandlerWaitsInValidator(lockName:)` ran in the handler run in
  /// progress.
  @exclusivity(unchecked) private var reportedHandlerDeadlock = false

  /// The outermost handler returned: its run is complete.
  func endHandlerRun() {
    deferred.endRun()
    inHandlerRun = false
    reportedHandlerDeadlock = false
  }

  /// Validates the queued events of signal handlers, in order, with the
  /// stacks they were queued with; signals are blocked meanwhile, so no
  /// handler appends to the queue while it is read.
  @inline(never)
  func replayDeferred() {
    replay(&deferred, since: "since the thread's last lock event")
  }

  /// Validates the events of handlers that ran on this thread before it
  /// had this state (`OrphanEvents`).
  @inline(never)
  func replayOrphans() {
    OrphanEvents.withQueue { replay(&$0, since: "before the thread's first lock event") }
  }

  /// Validates `queue`'s events as this thread's, in order, with the stacks
  /// they were queued with, and empties it. A run that did not fit is
  /// misuse, queued `since` (for the message).
  private func replay(_ queue: inout DeferredEvents, since: String) {
    let saved = UnsafeMutableRawPointer.allocate(byteCount: Int(rlc_sigset_size()), alignment: 16)
    defer { saved.deallocate() }
    rlc_block_signals(saved)
    defer { rlc_restore_signals(saved) }
    let dropped = queue.dropped
    queue.forEachEvent { event, stack in
      var event = event
      event.thread = id
      replayStack = stack
      process(event)
      replayStack = nil
    }
    queue.clear()
    // Signals are blocked: no handler queues an event meanwhile.
    gate.eventsDeferred = deferred.needsReplay
    if dropped > 0 { handlerRunsDropped(dropped, capacity: queue.capacity, since: since) }
  }

  /// Handler runs that did not fit their queue: a `limit-exceeded`
  /// finding here (the thread's next lock event, where the queue is
  /// validated), as every limit is one, so that a test or a run's exit
  /// status sees it (before 2026-12-06 a line on standard error alone).
  private func handlerRunsDropped(_ count: Int, capacity: Int, since: String) {
    inValidator { validator.reportDroppedHandlerRuns(count, capacity: capacity, since: since) }
  }

  /// Runs `body`, a report outside an event, with the thread marked as
  /// inside the validator (`busy`: a signal handler then queues its
  /// events), and the stack captured for it forgotten after.
  private func inValidator(_ body: () -> Void) {
    busy = true
    rlc_signal_fence()
    body()
    eventStack = .none
    rlc_signal_fence()
    busy = false
  }

  /// Runs at thread exit: locks still held are reported (to the scope that
  /// took them, if any), the recording flushed.
  func exit() {
    busy = false
    if deferred.needsReplay { replayDeferred() }
    let held = validator.heldLocks
    // A finding's stack, captured here: the thread's exit path under the
    // validator's frames (which reports leave out), the same whether a
    // scope takes the finding or not. Captured inside the scope's binding,
    // it had `TaskLocal.withValue` between the validator's frames, and
    // reports showed the validator's frames below it.
    // Through glibc's unwinder (`backtrace()`, about 4 µs, once per such
    // thread): this runs in glibc's thread-exit code, built without frame
    // pointers, where a frame-pointer walk stopped, and the report's stack
    // was `__nptl_deallocate_tsd` alone, without `start_thread` and the
    // thread's own entry below it.
    if !held.isEmpty {
      let n = StackCapture.captureWithBacktrace(into: stackBuffer, skip: 0)
      if n > 0 { replayStack = UnsafeBufferPointer(rebasing: stackBuffer[..<n]) }
    }
    // Locks a thread run in a test's scope (one with an end name: a test,
    // a block that expects `locks-held-at-exit`) took there and left held
    // are forgotten once reported, as the test's end forgets what it
    // reports: their release later, on another thread (a negative test's
    // cleanup), is no bad unlock balance. Any other lock's (one taken
    // before the scope's `run`, or on a thread run in no test's scope) is
    // one, as lockdep finds it (the releasing thread holds no such lock).
    let taken = exitScopeLocks
    let forgotten =
      exitScope?.endName == nil || taken.isEmpty
      ? []
      : held.filter { h in
        taken.contains { $0.lockClass == h.lockClass && $0.instance == h.instance }
      }
    exitScopeLocks = []
    if let scope = exitScope {
      exitScope = nil
      scope.atThreadExit(self) { process(LockEvent(.exit, thread: id)) }
    } else {
      process(LockEvent(.exit, thread: id))
    }
    replayStack = nil
    if !forgotten.isEmpty { validator.core.forget(forgotten) }
    if let recording {
      // Written and forgotten: a thread per task must not keep a buffer
      // per task. A later event of this thread (another key's destructor)
      // gets a new state, and a new recording, from its first event.
      LiveValidator.shared.recorder?.retire(recording)
    }
    // The validator's stack source is this state itself: a reference
    // cycle, which would keep every exited thread's state (about 16 KB)
    // for the life of the process.
    validator.stackSource = nil
  }

  /// How many times the exit key's destructor ran on this thread: the
  /// exit check waits for its second round (`exitKey`).
  @exclusivity(unchecked) var exitRounds = 0

  /// The validation scope whose `run` on this thread ended with locks it
  /// took still held: a finding at the thread's exit is that scope's.
  @exclusivity(unchecked) var exitScope: LockValidationScope?
  /// The locks that `run` left held (taken in it): those its exit forgets
  /// once reported, by class and instance (a lock taken before the run
  /// may be released first, so no count of held locks says which).
  @exclusivity(unchecked) var exitScopeLocks: [HeldLock] = []

  static func systemThreadID() -> Int32 { rlc_gettid() }

  static func currentThreadName() -> String {
    var buffer = [CChar](repeating: 0, count: 32)
    if rlc_thread_name(&buffer, buffer.count) == 0 {
      let name = String(
        decoding: buffer.prefix { $0 != 0 }.map { UInt8(bitPattern: $0) }, as: UTF8.self)
      if !name.isEmpty { return name }
    }
    return "thread"
  }
}

extension LiveThread {
  /// Ends the validation of the thread that ends the process (from
  /// `atexit`), as its key destructor would have: a later event of it (a
  /// later `atexit` handler's) starts a new state.
  static func processExits() {
    guard !Live.off.load(ordering: .relaxed), let raw = rlc_lockdep_thread() else { return }
    let thread = Unmanaged<LiveThread>.fromOpaque(raw)
    // Inside the validator already (exit from a finding's handler): left.
    guard !thread.takeUnretainedValue().busy else { return }
    pthread_setspecific(exitKey, nil)
    thread.takeUnretainedValue().exit()
    rlc_lockdep_set_thread(nil)
    thread.release()
  }
}

/// The pthread key whose destructor ends a thread's validation at exit.
private let exitKey: pthread_key_t = {
  var key = pthread_key_t()
  pthread_key_create(&key) { raw in
    guard let raw else { return }
    // The program's own keys' destructors run in the same rounds, after
    // this one's (this key was made first) and may release locks the
    // thread still holds (a lock kept in a thread-local value): lockdep's
    // `debug_check_no_locks_held()` runs at the very end of `do_exit()`,
    // after every such cleanup. So the check waits one round: setting the
    // key again asks glibc for another (of `PTHREAD_DESTRUCTOR_ITERATIONS`,
    // 4), after the first round's destructors have run. Not to the last:
    // ThreadSanitizer ends its own state for the thread there (its key is
    // made first, and sets itself again until then), and a state made by
    // a destructor in a later round would get no round left for its check
    // (a review's). Before 2026-12-07 such a thread's lock was found held
    // at its exit, and its release a bad unlock balance (an independent
    // trial's).
    let thread = Unmanaged<LiveThread>.fromOpaque(raw)
    let state = thread.takeUnretainedValue()
    state.exitRounds += 1
    if state.exitRounds < 2 {
      pthread_setspecific(exitKey, raw)
      return
    }
    // No signal handler runs on this thread from here on: its events,
    // queued after the replay below, or after the state is gone, would be
    // validated and recorded by no one (a handler sent to exiting threads
    // was lost in every run). A signal sent to the process goes to another
    // thread; one sent to this thread dies with it, not run, as it would
    // have a moment later.
    rlc_block_signals_for_exit()
    // Other layers' cleanup that takes validated locks, on this state
    // (`ThreadExitHooks`).
    ThreadExitHooks.runAll()
    state.exit()
    rlc_lockdep_set_thread(nil)
    thread.release()
  }
  return key
}()
