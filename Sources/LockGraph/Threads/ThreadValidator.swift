import Basics
import WaitContext

/// Captures the calling thread's stack when the validator records something
/// new (a dependency, a usage bit, a finding), so that stacks are taken only
/// on the slow path. A live program provides one; a trace has its stacks
/// already and needs none.
public protocol StackSource: AnyObject {
  /// Captures the current stack and returns its id.
  func captureStack() -> StackID
}

/// The validation of one thread's events against a shared `ValidatorCore`:
/// lockdep's per-task state (held locks, interrupt contexts) and the checks
/// run on each event.
///
/// A `ThreadValidator` belongs to one thread at a time (a live thread, or a
/// trace's thread driven by the reader). Its fast path, an acquisition
/// whose chain was validated before, reads the core's classes and chain
/// cache, writes only this value, and takes no lock; anything new takes the
/// core's lock.
///
/// Its held-lock stack has reference storage (`HeldStack`): a copy shares
/// it, so keep one copy and change it in place (as `LockValidator` and the
/// live thread do); do not validate events on two copies.
public struct ThreadValidator {
  /// The shared state validated against.
  public let core: ValidatorCore
  /// This thread's id in `core`.
  public private(set) var thread: ThreadID
  @usableFromInline var state: ThreadState
  /// Counters for benchmarks and the report footer.
  public var statistics: Statistics { counters }
  /// The counters behind `statistics` (settable by the inlined fast path).
  @usableFromInline var counters = Statistics()
  /// Captures stacks for new records; nil when events carry their stacks.
  public var stackSource: (any StackSource)?
  /// Set when the current acquisition produced a finding (new or a repeat):
  /// its chain is then not cached, so every later occurrence is counted.
  var producedFinding = false
  /// Whether a trace's validator lists this thread among those whose held
  /// locks are not indexed by address yet (`ThreadSlots.unindexed`).
  /// Beside `producedFinding`, in what was padding: the fields the fast
  /// path reads stay where they were.
  var awaitsIndex = false
  /// Set when a release was of a lock a live thread reported and forgot
  /// (`ValidatorCore.forget`), and so validated nothing: the live layer
  /// that records the event takes it (`takeReleasedForgottenLock()`) and
  /// leaves the event out (the trace released the lock when it was
  /// forgotten). Never written on the fast path.
  public internal(set) var releasedForgottenLock = false

  /// Whether the event just validated was the release of a forgotten lock
  /// (`releasedForgottenLock`), which is cleared.
  public mutating func takeReleasedForgottenLock() -> Bool {
    defer { releasedForgottenLock = false }
    return releasedForgottenLock
  }
  /// The core's shared state while the caller holds its lock for a
  /// stretch of events (`LockValidator`, a trace's single driver, takes it
  /// once per batch): the slow path then uses it without locking again.
  /// Set only around an event on the thread that holds the lock, and only
  /// for a core without an `onFinding` callback (which runs outside the
  /// lock).
  var heldShared: UnsafeMutablePointer<SharedState>? = nil
  /// The most locks this thread held at once, as a trace's validator saw
  /// after each acquisition (`noteDepth(event:)`), and the event that first
  /// reached it (-1: none yet).
  var deepest: (count: Int, event: Int64) = (0, -1)
  /// Findings of the current event (each with whether it is a new distinct
  /// one), handed to the core's callback after its lock.
  var pending: [(finding: Finding, isNew: Bool)] = []
  /// A buffer for the classes a finding is about, kept between findings:
  /// a repeated finding (a buggy path taken a million times) is then
  /// counted without an array allocated per occurrence.
  var relatedScratch: [ClassID] = []
  /// Recent acquisitions whose chain validation produced findings and
  /// nothing else, counted again without validating (`FindingReplay`).
  var replay = FindingReplay()
  /// While a release (or a free) re-validates the locks held above the one
  /// it dropped (lockdep's `reacquire_held_locks()`): that event's origin,
  /// where their findings and new dependencies are found (`foundAt(_:)`),
  /// as the kernel reports them from inside the unlock. The re-pushed
  /// locks keep their own acquisitions' origins (`acquire_ip`).
  var reacquiredAt: Origin? = nil
  /// While a release re-validates many locks (`reacquire`): the classes
  /// held, so that each re-pushed lock's recursion check is a lookup, not
  /// a walk of the held locks. A release at the bottom of a deep stack
  /// re-pushes every lock above it, and walking the stack for each made
  /// locks released oldest first cost O(depth^2) a release (1,000 held
  /// mutexes released so, 30 times over: 49 s).
  var reacquiredClasses: Set<ClassID>? = nil

  /// The most locks one thread may hold before its validation stops
  /// (lockdep's `MAX_LOCK_DEPTH` is 48; this limit only bounds memory).
  public static let maxHeldDepth = 1024

  /// The most interrupt-like contexts (`hardirq-enter`, `softirq-enter`,
  /// `nmi-enter`) one thread may have entered and not left: an enter past
  /// it is refused (`EventError`). The kernel's preempt count has room for
  /// 15 nested hard interrupts and 15 NMIs; this limit only bounds
  /// memory, as `maxHeldDepth` does.
  public static let maxContextDepth = 1024

  /// Counters of one thread's validation.
  public struct Statistics: Sendable {
    /// Acquisitions validated.
    public var acquisitions: Int64 = 0
    /// Acquisitions whose chain was in the cache.
    public var chainHits: Int64 = 0
    /// Acquisitions whose chain was validated anew.
    public var chainMisses: Int64 = 0
    /// Acquisitions of the `local_bh` map that `bh-disable` takes on
    /// PREEMPT_RT (among `acquisitions`; no event names its class:
    /// `ValidatorCore.localBottomHalfClass`).
    public var localBottomHalfTakings: Int64 = 0

    /// An empty set of counters.
    public init() {}

    /// Adds another thread's counters.
    public mutating func add(_ other: Statistics) {
      acquisitions += other.acquisitions
      chainHits += other.chainHits
      chainMisses += other.chainMisses
      localBottomHalfTakings += other.localBottomHalfTakings
    }
  }

  /// The core's class tables, read without reference counting.
  @usableFromInline let classes: ClassTables
  /// The core's chain cache, read without reference counting.
  @usableFromInline let chains: ChainLookup
  /// The core's configuration, copied.
  let configuration: CheckConfiguration
  /// The core's shared state behind its lock, reached without reference
  /// counting (`core` keeps it alive): the slow path takes it per new chain.
  let shared: Unmanaged<PThreadMutex<SharedState>>
  /// The core's chain cache, for inserts without reference counting
  /// (`core` keeps it alive).
  let chainCache: Unmanaged<ChainCache>
  /// Whether the fast path remembers chains in `state.memo`: a live
  /// thread's does (a memo hit saves a load from the chain cache other
  /// threads write); a trace's does not, since `acquireInBatch` takes the
  /// chain cache alone (a hit costs about what a memo lookup does, and the
  /// memo's miss would be one more branch it mispredicts), and a trace's
  /// single events must count chain hits as batches do.
  @usableFromInline let remembersChains: Bool
  /// PREEMPT_RT's `local_bh` class once this thread looked it up
  /// (`localBottomHalfClass()`; `.none`: the class table was full). Last,
  /// after the fields the fast path reads.
  var localBottomHalf: ClassID? = nil
  /// A buffer for the locks a release below the top re-validates
  /// (`release`), kept between releases.
  var reacquireScratch: [HeldLock] = []

  /// The validator of thread `thread` (registered in `core`).
  public init(core: ValidatorCore, thread: ThreadID) {
    self.init(core: core, thread: thread, live: true)
  }

  /// The validator of thread `thread`: of a live thread (`live`), with
  /// room for 16 interrupt contexts and 4 held locks before the first
  /// allocation (a signal handler may not allocate); of a trace's thread,
  /// with room for 2 held locks and no context list yet (a trace may have
  /// a million threads alive; its full path grows them).
  init(core: ValidatorCore, thread: ThreadID, live: Bool) {
    self.core = core
    self.thread = thread
    self.classes = core.classes.tables
    self.chains = core.chains.lookup
    self.configuration = core.configuration
    self.shared = Unmanaged.passUnretained(core.shared)
    self.chainCache = Unmanaged.passUnretained(core.chains)
    self.remembersChains = live
    state = ThreadState(heldCapacity: live ? 4 : 2)
    if configuration.preemptRT { state.softirqContext = IRQContextID.task }
    if live { state.contexts.reserveCapacity(16) }
  }

  /// This thread's validation continued against `core` (a fork of its
  /// core, or the core it was forked from): the same thread, held locks,
  /// contexts and stack source. The held locks' storage is shared, so use
  /// only the returned value from now on.
  public func moved(to core: ValidatorCore) -> ThreadValidator {
    var moved = ThreadValidator(core: core, thread: thread)
    moved.state = state
    // What the memo remembers was checked against this core.
    moved.state.memo = ChainMemo()
    moved.counters = counters
    moved.deepest = deepest
    moved.stackSource = stackSource
    return moved
  }

  /// This validator made new for thread `thread` (registered in the same
  /// core), keeping the buffers it grew: what `ThreadSlots` does with the
  /// validator of a thread that exited. `awaitsIndex` is the caller's.
  mutating func restart(as thread: ThreadID) {
    self.thread = thread
    state.restart()
    counters = Statistics()
    stackSource = nil
    producedFinding = false
    heldShared = nil
    deepest = (0, -1)
    pending.removeAll(keepingCapacity: true)
  }

  /// Between events, this thread is what a new one is but for its counters,
  /// its deepest stack and its interrupt-state changes (`irqTrace`):
  /// nothing held, no context entered, nothing disabled, validation not
  /// stopped, no dropped lock remembered. (What else a thread keeps is
  /// read only while something is held, entered or disabled, and set
  /// anew before: the preemption origin, the forced-threading fields, the
  /// live memo.) `ThreadSlots.parkIdle(threads:)` gives such a thread's
  /// slot back.
  var isIdle: Bool {
    state.held.isEmpty && state.acquireBlockers == 0 && state.chainKey == 0
      && state.freedHeld.isEmpty && pending.isEmpty && stackSource == nil
  }

  /// The locks this thread holds now, oldest first.
  public var heldLocks: [HeldLock] { Array(state.held) }

  /// How many locks this thread holds now.
  public var heldCount: Int { state.held.count }

  /// Whether this thread holds the lock at `instance` (not 0), in any
  /// context. Allocates nothing: a signal handler may ask it.
  public func holdsInstance(_ instance: UInt64) -> Bool {
    var i = 0
    while i < state.held.count {
      if state.held[i].instance == instance { return true }
      i &+= 1
    }
    return false
  }

  /// The newest held lock, if any is held.
  public var newestHeld: HeldLock? { state.held.top }

  /// Whether validation of this thread stopped (a limit was hit) until it
  /// holds nothing again or exits.
  public var isStopped: Bool { state.stopped }

  // MARK: Events

  /// Validates one event of this thread.
  ///
  /// `free` and `init` check this thread's held locks; a caller that knows
  /// other threads checks theirs with `checkFreed(_:held:by:)`.
  /// - Throws: `EventError` when the event breaks the stream's own rules
  ///   (contexts that do not nest, an enable without a disable); such an
  ///   event changes nothing.
  public mutating func process(_ event: LockEvent) throws(EventError) {
    if state.stopped {
      if event.verb == .exit {
        state.restart()
      } else {
        _ = state.countWhileStopped(event.verb)
      }
      return
    }
    // The interrupt state changes the event makes (`IrqTrace`); a
    // `bh-enable` counts its own, in lockdep's order, as does an
    // acquisition or release of an `rcu_bh` section (the only ones that
    // change the state), and an exit leaves a new thread's state, which
    // has counted nothing.
    let irqBefore = state.irqTraceState
    defer {
      if event.verb != .bhEnable && event.verb != .exit && event.verb != .acquire
        && event.verb != .release
      {
        state.irqTrace.note(from: irqBefore, to: state.irqTraceState, at: event.origin)
      }
    }
    switch event.verb {
    case .acquire: if !acquireFast(event) { acquire(event) }
    case .release: release(event)
    case .mightLock:
      // Only what the check pushed is dropped: one that pushes nothing (in
      // an NMI, past the class table) must leave the held locks alone.
      let depth = state.held.count
      acquire(event)
      if state.held.count > depth { popTopIfMatches(event) }
    case .mightSleep: checkSleep(event.origin, lock: nil)
    case .hardirqEnter:
      try checkContextRoom(.hardirq(threaded: false))
      noteDisablingPreemption(at: event.origin)
      enterHardirq(threaded: event.threaded)
    case .softirqEnter:
      try checkContextRoom(.softirq)
      noteDisablingPreemption(at: event.origin)
      enterContext(.softirq)
    case .nmiEnter:
      try checkContextRoom(.nmi)
      // `__nmi_enter()` adds to the count without `preempt_count_add()`,
      // which would record where: it names nothing.
      noteDisablingPreemption(at: nil)
      enterContext(.nmi)
    case .hardirqExit: try exitContext(.hardirq(threaded: false), event)
    case .softirqExit: try exitContext(.softirq, event)
    case .nmiExit: try exitContext(.nmi, event)
    case .irqDisable: state.irqDisableDepth += 1
    case .irqEnable: try enableIRQs(event)
    case .bhDisable:
      takeLocalBottomHalf(at: event.origin)
      noteDisablingPreemption(at: event.origin)
      state.bhDisableDepth += 1
    case .bhEnable: try enableBottomHalves(event)
    case .preemptDisable:
      noteDisablingPreemption(at: event.origin)
      state.preemptDisableDepth += 1
    case .preemptEnable:
      guard state.preemptDisableDepth > 0 else {
        throw EventError("preempt-enable without preempt-disable")
      }
      state.preemptDisableDepth -= 1
    case .initLock, .free:
      checkFreed(event, held: state.held, by: thread)
      dropFreed(from: event.address, length: event.freedLength, at: event.origin)
      core.forgotten.drop(from: event.address, length: event.freedLength)
    case .exit: exitThread(event)
    }
    deliverPending()
  }

  /// The full path of an `acquire` or `release` of a declared class on a
  /// validated thread, numbered `number` (`LockValidator`'s events read in
  /// place, whose fast path did not take them): what `process(_:)` would
  /// do after its fast path.
  @inline(never)
  mutating func processInFull(_ event: LockEvent, number: Int64) {
    var event = event
    event.origin.event = number
    if event.verb == .acquire { acquire(event) } else { release(event) }
    deliverPending()
  }

  /// Notes the held-lock count after acquisition `event` (a trace's
  /// validator calls it for each one it accepts).
  @inline(__always)
  mutating func noteDepth(event: Int64) {
    if state.held.count > deepest.count { deepest = (state.held.count, event) }
  }

  // MARK: The slow path

  /// Runs `body` under the core's lock: taken here, or already held by
  /// the caller that set `heldShared`.
  @inline(never)
  mutating func withShared(_ body: (inout ThreadValidator, inout SharedState) -> Void) {
    if let held = heldShared {
      body(&self, &held.pointee)
      return
    }
    shared._withUnsafeGuaranteedRef { $0.withLock { s in body(&self, &s) } }
  }

  /// Hands new findings to the core's callback, outside its lock.
  @inline(__always)
  mutating func deliverPending() {
    if pending.isEmpty { return }
    deliverPendingSlow()
  }

  @inline(never)
  mutating func deliverPendingSlow() {
    // Swapped out, and back once delivered: a finding repeated in a loop
    // allocates no list an occurrence.
    var found: [(finding: Finding, isNew: Bool)] = []
    swap(&found, &pending)
    if let onFinding = core.onFinding { for f in found { onFinding(f.finding, f.isNew) } }
    if pending.isEmpty {
      found.removeAll(keepingCapacity: true)
      swap(&found, &pending)
    }
  }

  /// `origin`, with a stack captured now if it has none and a source can
  /// capture one (something new is being recorded).
  mutating func stacked(_ origin: Origin) -> Origin {
    guard origin.stack.isNone, let source = stackSource else { return origin }
    var o = origin
    o.stack = source.captureStack()
    return o
  }

  // MARK: Recording findings

  /// lockdep's `[HC%u[%lu]:SC%u[%lu]:HE%u:SE%u]`. The bracketed counts
  /// are `hardirq_count()` and `softirq_count()` shifted down: a softirq
  /// being served counts 1 (`SOFTIRQ_OFFSET`) and each `local_bh_disable()`
  /// 2 (`SOFTIRQ_DISABLE_OFFSET`), so bottom halves disabled once in task
  /// context print `SC0[2]`.
  func irqState() -> String {
    let s = state
    // `nmi_enter()` adds `HARDIRQ_OFFSET` to the preempt count and calls
    // `lockdep_hardirq_enter()`: both `hardirq_count()` and
    // `lockdep_hardirq_context()` (a nesting count) count an NMI.
    let hardirqCount = Int64(s.hardirqDepth - s.forcedThreadDepth) + Int64(s.nmiDepth)
    // A forced-threaded handler's irq thread (PREEMPT_RT) counts its own:
    // bottom halves off once (`irq_forced_thread_fn()`), and what it did.
    let own = s.ownDepths
    let sc = own.softirq > 0 ? 1 : 0
    let softirqCount =
      Int64(own.softirq) + 2 * (Int64(own.bhDisable) + (s.forcedThreadDepth > 0 ? 1 : 0))
    return
      "HC\(hardirqCount)[\(hardirqCount)]:SC\(sc)[\(softirqCount)]:HE\(s.hardirqsOff ? 0 : 1):SE\(s.softirqsEnabled ? 1 : 0)"
  }

  /// The held locks a finding lists, as lockdep's `lockdep_print_held_locks()`
  /// of the task running: inside a forced-threaded handler (PREEMPT_RT),
  /// the irq thread's, not those of the thread it interrupted.
  func heldNow() -> [LockSnapshot] {
    let s = state
    if s.forcedThreadDepth == 0 { return s.held.map(snapshot) }
    return s.held.filter(s.holdsOwn).map(snapshot)
  }

  /// A held lock as a finding shows it, with its class's usage bits now.
  func snapshot(_ held: HeldLock) -> LockSnapshot {
    var s = LockSnapshot(held)
    s.usage = classes.usage(held.lockClass)
    return s
  }

  /// Records one occurrence of a finding; it is delivered to the core's
  /// callback once the lock is released.
  mutating func report(
    _ kind: FindingKind, origin: Origin, lock: LockSnapshot?, detail: FindingDetail,
    classes related: [ClassID], in s: inout SharedState
  ) {
    report(
      kind, origin: origin, lock: lock, variant: detail.storeVariant, detail: { _ in detail },
      classes: related, in: &s)
  }

  /// `report` of a finding whose detail (of `variant`, its
  /// `storeVariant`) is built only when the finding is new: a repeated
  /// cycle or irq path is a count, not a copy of its links (a cycle of
  /// 20,000 classes closed again and again built its chain each time).
  mutating func report(
    _ kind: FindingKind, origin: Origin, lock: LockSnapshot?, variant: UInt32,
    detail: (inout SharedState) -> FindingDetail, classes related: [ClassID],
    in s: inout SharedState
  ) {
    let origin = stacked(origin)
    producedFinding = true
    if replay.isRecording {
      replay.record(kind, classes: related, variant: variant, site: origin.siteKey)
    }
    if let known = s.findings.countIfKnown(
      kind, origin: origin, classes: related, variant: variant)
    {
      if core.onFinding != nil { pending.append((s.findings.findings[known], false)) }
      return
    }
    var lock = lock
    if let c = lock?.lockClass { lock?.usage = classes.usage(c) }
    let made = detail(&s)
    // Built only when kept: a repeat is a count.
    let (i, isNew) = s.findings.recordIndex(
      kind, origin: origin, classes: related, variant: variant
    ) {
      Finding(
        kind: kind, thread: thread, origin: origin, lock: lock,
        held: heldNow(), detail: made, count: 1, irqState: irqState(),
        irqTrace: kind == .inconsistentLockState || (kind == .sleepInAtomic && state.hardirqsOff)
          ? state.irqTrace : nil)
    }
    if core.onFinding != nil { pending.append((s.findings.findings[i], isNew)) }
  }

  /// `report` from the fast path: captures the stack, then takes the
  /// core's lock.
  mutating func reportNow(
    _ kind: FindingKind, origin: Origin, lock: LockSnapshot?, detail: FindingDetail,
    classes related: [ClassID]
  ) {
    let stackedOrigin = stacked(origin)
    var lock = lock
    // The lock being acquired or released now shares the event's new stack.
    if lock?.origin == origin { lock?.origin = stackedOrigin }
    withShared { me, s in
      me.report(
        kind, origin: stackedOrigin, lock: lock, detail: detail, classes: related, in: &s)
    }
  }
}
