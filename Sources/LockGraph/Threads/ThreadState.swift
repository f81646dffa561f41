import WaitContext

/// What the validator knows about one thread: its held locks and its
/// execution-context state.
///
/// Invariant: `held` is ordered oldest first; entries with equal
/// `irqContext` that are adjacent form one segment, and only the last
/// segment belongs to the current interrupt context.
@usableFromInline
struct ThreadState: Sendable {
  /// Room for a few locks at first (`init(heldCapacity:)`: a trace may have
  /// a million threads): it grows, on the full path, to the deepest
  /// nesting the thread reaches.
  @usableFromInline var held: HeldStack
  /// lockdep's `curr_chain_key`: the chain key of the current segment.
  @usableFromInline var chainKey: UInt64 = 0
  /// Entered interrupt contexts, innermost last.
  var contexts: [ExecutionContext] = []
  @usableFromInline var hardirqDepth: Int32 = 0 {
    didSet { adjustBlockers(by: hardirqDepth &- oldValue, interrupt: true) }
  }
  @usableFromInline var softirqDepth: Int32 = 0 {
    didSet { adjustBlockers(by: softirqDepth &- oldValue, interrupt: true) }
  }
  @usableFromInline var nmiDepth: Int32 = 0 {
    didSet { adjustBlockers(by: nmiDepth &- oldValue, interrupt: true) }
  }
  @usableFromInline var irqDisableDepth: Int32 = 0 {
    didSet { adjustBlockers(by: irqDisableDepth &- oldValue, interrupt: false) }
  }
  @usableFromInline var bhDisableDepth: Int32 = 0 {
    didSet { adjustBlockers(by: bhDisableDepth &- oldValue, interrupt: false) }
  }
  @usableFromInline var preemptDisableDepth: Int32 = 0 {
    didSet { adjustBlockers(by: preemptDisableDepth &- oldValue, interrupt: false) }
  }
  /// Bottom halves came back on while interrupts were off and locks were
  /// held, which marks none of them softirq-enabled (`lockdep_softirqs_on()`
  /// marks only with interrupts on), and interrupts have not come back on
  /// since (which marks them all): a lock re-validated after a release below
  /// it may have a softirq-enabled bit to set (`reacquire`'s `markUsage`,
  /// asked only then). Only ever set too often, never too rarely.
  var softirqsOnUnmarked = false
  /// Validation of this thread stopped (a limit was hit) until it holds
  /// nothing again (`depthWhileStopped`) or exits.
  @usableFromInline var stopped = false {
    didSet { if stopped != oldValue { adjustBlockers(by: stopped ? 1 : -1, interrupt: true) } }
  }
  /// The sum of the six depths above and `stopped`, kept by their
  /// observers: 0 exactly when the thread is in plain task context (no
  /// interrupt-like context entered, nothing disabled) and validated, which
  /// the acquisition fast path tests with one load.
  /// (Depths never go below 0: a stream that would make one is refused.)
  @usableFromInline private(set) var acquireBlockers: Int32 = 0
  /// The sum of the three interrupt-like depths and `stopped`: 0 exactly
  /// when no interrupt-like context is entered (interrupts, bottom halves
  /// or preemption may be disabled) and the thread is validated, which the
  /// release fast path tests with one load.
  @usableFromInline private(set) var releaseBlockers: Int32 = 0

  @inline(__always)
  private mutating func adjustBlockers(by change: Int32, interrupt: Bool) {
    acquireBlockers &+= change
    if interrupt { releaseBlockers &+= change }
  }
  /// Held locks dropped because their memory was freed or their interrupt
  /// handler returned with them held, and acquisitions not pushed because
  /// their subclass variant found no room in the class table (the newest
  /// `ThreadValidator.maxHeldDepth`, `rememberDropped`): a release of one
  /// later (an unlock of freed memory, of a lock a handler leaked, of a
  /// lock reported as past the table) follows a report already made, and
  /// is not reported again.
  var freedHeld: [HeldLock] = []
  /// Recent fast-path acquisitions and their outcome (valid for the core
  /// the thread validates against).
  @usableFromInline var memo = ChainMemo()
  /// Of `hardirqDepth`, the handlers a PREEMPT_RT kernel runs in a thread
  /// of their own (`hardirq-enter threaded` with `--preempt-rt`: forced
  /// threading): there, as in the kernel's irq thread, interrupts are on,
  /// bottom halves off (`irq_forced_thread_fn()`), and an acquisition is
  /// no use in hardirq context. They still count in `hardirqDepth`: their
  /// locks are a segment of their own (another thread's, in the kernel),
  /// and their wait context is a threaded handler's.
  /// (Last: the fields the fast paths read keep their places.)
  var forcedThreadDepth: Int32 = 0
  /// Changes of the interrupt state so far, for an inconsistent lock
  /// state's report.
  var irqTrace = IrqTrace()
  /// The context event that took the preempt count the contexts add
  /// (`contextsDisablePreemption`) from 0 to more, as the kernel's
  /// `preempt_disable_ip` is where the preempt count last left 0 (a
  /// sleep-in-atomic report's `Preemption disabled at:`). Every context
  /// that adds to the count now was entered at or after it.
  /// Nil when no context adds to it, or an NMI's entry took it from 0
  /// (`__nmi_enter()` records no place).
  var contextsDisabledPreemptionAt: Origin? = nil
  /// How many locks were held when `contextsDisabledPreemptionAt` was
  /// noted: live events carry no number (their origins' `event` is 0), and
  /// a lock held at that index or above was taken after it (unless a lock
  /// below was released since).
  var contextsDisabledPreemptionDepth = 0
  /// The hard interrupt handlers entered are threaded ones
  /// (`hardirq-enter threaded`, or nested in or around one): all of them
  /// are, or none is (`enterHardirq`). False when none is entered.
  var hardirqsThreaded = false
  /// The thread's depths when the outermost hard interrupt handler now
  /// entered was entered: on PREEMPT_RT a forced-threaded handler runs in
  /// an irq thread of its own, which did not disable what the interrupted
  /// thread disabled (`ownDepths`).
  var depthsAtHardirqEntry = ContextDepths()
  /// Hard interrupt handlers a softirq entered inside them has left, as
  /// the kernel runs softirqs from `irq_exit()` after leaving hardirq
  /// context (`lockdep_softirq_start()` calls `lockdep_hardirq_exit()`, and
  /// `__irq_exit_rcu()` takes `HARDIRQ_OFFSET` off the preempt count), to
  /// be entered again when that softirq ends: innermost last. Inside such a
  /// softirq the thread is in softirq context alone (its wait type is
  /// `LD_WAIT_CONFIG`, its locks' `irq_context` 1, their usage
  /// `IN-SOFTIRQ`), with interrupts on. On PREEMPT_RT, a handler entered
  /// inside handlers of the other kind (a forced-threaded one, or a hard
  /// one interrupting an irq thread) leaves them too, until it ends
  /// (`ThreadValidator.enterHardirq`).
  var suspendedHardirqs: [SuspendedHardirqs] = []
  /// While `stopped`: the locks the thread holds, the contexts it is in
  /// and what it disabled, counted (not validated) from the stop on
  /// (`countWhileStopped`); back at 0, the thread is validated again as
  /// one that just started.
  var depthWhileStopped = 0
  /// What a softirq entered in task context adds to `irqContext`:
  /// `IRQContextID.softirq`, or, on PREEMPT_RT, nothing (`ThreadValidator`'s
  /// init; one entered in a handler is a softirq context apart, as an RT
  /// kernel runs it in `ksoftirqd` or the irq thread, not in the task the
  /// handler interrupted). An RT kernel's
  /// lockdep has no softirq context ("lockdep: Remove softirq accounting
  /// on PREEMPT_RT": `lockdep_softirq_enter()` is empty there), so a
  /// softirq's locks are of the task's `irq_context` and chain with the
  /// locks the task holds, as when `__local_bh_enable_ip()` runs pending
  /// softirqs in the task that enabled bottom halves. A property of the
  /// configuration, kept by `restart()`.
  var softirqContext = IRQContextID.softirq

  /// A thread that just started: nothing held, entered or disabled, with
  /// room for `heldCapacity` held locks before the stack grows.
  init(heldCapacity: Int = 4) { held = HeldStack(capacity: heldCapacity) }

  /// Makes this a thread that just started, in its own buffers emptied
  /// (an exited thread's, whose validator the next thread takes:
  /// `ThreadSlots`): every stored property as `init()` leaves it, field by
  /// field in place, so no buffer is allocated, copied or reference
  /// counted (a trace with a thread per task does this per thread). A
  /// stored property added to this type must be reset here too; a test
  /// compares every one with a new state's.
  mutating func restart() {
    held.removeAll(from: 0)
    chainKey = 0
    contexts.removeAll(keepingCapacity: true)
    hardirqDepth = 0
    forcedThreadDepth = 0
    softirqDepth = 0
    nmiDepth = 0
    irqDisableDepth = 0
    bhDisableDepth = 0
    preemptDisableDepth = 0
    stopped = false
    acquireBlockers = 0
    releaseBlockers = 0
    freedHeld.removeAll(keepingCapacity: true)
    memo = ChainMemo()
    irqTrace = IrqTrace()
    contextsDisabledPreemptionAt = nil
    contextsDisabledPreemptionDepth = 0
    hardirqsThreaded = false
    depthsAtHardirqEntry = ContextDepths()
    suspendedHardirqs.removeAll(keepingCapacity: true)
    depthWhileStopped = 0
    softirqsOnUnmarked = false
    // `softirqContext` is the configuration's: kept.
  }

  /// Stops validating this thread (a limit was hit at an acquisition not
  /// pushed) until it holds nothing and is back in task context with
  /// nothing disabled: what it holds, is in and disabled, the acquisition
  /// and the locks dropped after a report (whose release may come) counted
  /// from now on. (A count too high only delays the restart, or keeps the
  /// thread stopped until it exits, as before; one too low would restart
  /// it under a lock.)
  /// `bottomHalfMap`: PREEMPT_RT's `local_bh` class (`LocalBottomHalf`),
  /// whose entries, as an `rcu_bh` section's, go with a bottom-half count
  /// counted already (its `bh-enable` is the one event that ends both).
  mutating func stop(bottomHalfMap: ClassID? = nil) {
    stopped = true
    // A held entry stands for its `references` acquisitions (nest locks
    // merged into it), each released on its own.
    var locks = 1 + freedHeld.count
    for lock in held where !lock.endsBottomHalfSection && lock.lockClass != bottomHalfMap {
      locks += max(Int(lock.references), 1)
    }
    depthWhileStopped =
      locks + contexts.count + Int(irqDisableDepth) + Int(bhDisableDepth)
      + Int(preemptDisableDepth)
  }

  /// Counts event `verb` of a stopped thread: a lock taken or released,
  /// a context entered or left, something disabled or enabled. Returns
  /// true when that leaves the thread holding nothing, in task context,
  /// with nothing disabled: it is then restarted (`restart()`), and its
  /// next event validated.
  mutating func countWhileStopped(_ verb: LockEvent.Verb) -> Bool {
    switch verb {
    case .acquire, .hardirqEnter, .softirqEnter, .nmiEnter, .irqDisable, .bhDisable,
      .preemptDisable:
      depthWhileStopped &+= 1
    case .release, .hardirqExit, .softirqExit, .nmiExit, .irqEnable, .bhEnable, .preemptEnable:
      depthWhileStopped = max(depthWhileStopped &- 1, 0)
      if depthWhileStopped == 0 {
        restart()
        return true
      }
    default: break
    }
    return false
  }

  /// The thread's preemption, interrupt and bottom-half depths now.
  var depths: ContextDepths {
    ContextDepths(
      preemptDisable: preemptDisableDepth, irqDisable: irqDisableDepth,
      bhDisable: bhDisableDepth, softirq: softirqDepth)
  }

  /// The depths of the code running now: inside forced-threaded handlers
  /// (`forcedThreadDepth`, PREEMPT_RT), the irq thread's, which is not the
  /// thread it interrupted (what that one disabled is not counted); else
  /// `depths`.
  var ownDepths: ContextDepths {
    forcedThreadDepth == 0 ? depths : depths.since(depthsAtHardirqEntry)
  }

  /// `lock` is held by the code running now: inside forced-threaded
  /// handlers (PREEMPT_RT), one the irq thread took (in its context,
  /// `IRQContextID.forcedThread`), not one of the thread or the hard
  /// interrupt handler it interrupted.
  @inline(__always)
  func holdsOwn(_ lock: HeldLock) -> Bool {
    forcedThreadDepth == 0 || lock.irqContext & IRQContextID.forcedThread != 0
  }

  /// Keeps `lock`, dropped after a report, in `freedHeld`, the newest
  /// `ThreadValidator.maxHeldDepth` of them (as many as may be held).
  /// Returns whether the oldest was forgotten to make room.
  mutating func rememberDropped(_ lock: HeldLock) -> Bool {
    let full = freedHeld.count >= ThreadValidator.maxHeldDepth
    if full { freedHeld.removeFirst() }
    freedHeld.append(lock)
    return full
  }

  /// The newest held lock.
  @inlinable var top: HeldLock? {
    @inline(__always) get { held.top }
  }

  /// The wait limit of the current context (`waitContext.waitLimit`),
  /// without a search in task context.
  var waitLimit: WaitType {
    @inline(__always) get {
      if nmiDepth | hardirqDepth | softirqDepth == 0 { return .task }
      return waitContext.waitLimit
    }
  }

  @inline(__always)
  var irqContext: UInt8 {
    (hardirqDepth > 0 ? IRQContextID.hardirq : 0)
      | (softirqDepth > 0
        ? (contexts.first == .softirq ? softirqContext : IRQContextID.softirq) : 0)
      | (forcedThreadDepth > 0 ? IRQContextID.forcedThread : 0)
      | (nmiDepth > 0 ? IRQContextID.nmi : 0)
  }

  /// Interrupts are off: disabled, or implied by hardirq or NMI context.
  var hardirqsOff: Bool {
    irqDisableDepth > 0 || hardirqDepth > forcedThreadDepth || nmiDepth > 0
  }

  /// In a hard interrupt handler that runs as one (not in a forced thread).
  var inHardirq: Bool { hardirqDepth > forcedThreadDepth }

  /// The contexts add to the kernel's preempt count: `preempt-disable`,
  /// `bh-disable`, or a softirq, hard interrupt or NMI entered (held locks
  /// add to it too).
  var contextsDisablePreemption: Bool {
    preemptDisableDepth | bhDisableDepth | softirqDepth | hardirqDepth | nmiDepth != 0
  }

  /// Bottom halves may run (lockdep's `softirqs_enabled`).
  var softirqsEnabled: Bool { bhDisableDepth == 0 && softirqDepth == 0 && forcedThreadDepth == 0 }

  /// The context whose wait limit applies (lockdep's `task_wait_context()`):
  /// NMI, else the innermost hard interrupt, else softirq, else task.
  var waitContext: ExecutionContext {
    if nmiDepth > 0 { return .nmi }
    if hardirqDepth > 0 {
      // An index loop: `reversed()` allocates in debug builds, and this
      // runs in signal handlers, where nothing may allocate.
      var i = contexts.count - 1
      while i >= 0 {
        if case .hardirq = contexts[i] { return contexts[i] }
        i -= 1
      }
    }
    if softirqDepth > 0 { return .softirq }
    return .task
  }

  /// The index of the first held lock of the current interrupt context.
  var currentSegmentStart: Int {
    let context = irqContext
    var start = held.count
    while start > 0 && held[start - 1].irqContext == context { start -= 1 }
    return start
  }
}

/// The hard interrupt handlers a softirq left as it was entered inside them
/// (`ThreadState.suspendedHardirqs`), or, on PREEMPT_RT, a handler of the
/// other kind (forced-threaded or not), with what they had set.
struct SuspendedHardirqs: Equatable {
  /// The place in `ThreadState.contexts` of the context that left them.
  var leftAt: Int
  /// `hardirqDepth`, `forcedThreadDepth`, `hardirqsThreaded` and
  /// `depthsAtHardirqEntry` as they were.
  var depth: Int32
  var forcedThreadDepth: Int32
  var threaded: Bool
  var depthsAtEntry: ContextDepths
}
