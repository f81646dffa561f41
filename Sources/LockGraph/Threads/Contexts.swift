import WaitContext

extension ThreadValidator {
  /// Before an event that adds to the preempt count (`preempt-disable`,
  /// `bh-disable`, an interrupt-like context's entry): where the count the
  /// contexts add left 0, when it does now (nil: a place not known). On
  /// PREEMPT_RT an event that adds nothing there (`bh-disable`) is noted
  /// too, and replaced by the next while the count stays 0.
  @inline(__always)
  mutating func noteDisablingPreemption(at origin: @autoclosure () -> Origin?) {
    if !contextsAddToPreemptCount {
      state.contextsDisabledPreemptionAt = origin()
      state.contextsDisabledPreemptionDepth = state.held.count
    }
  }

  /// The contexts add to the kernel's preempt count now
  /// (`ThreadState.contextsDisablePreemption`), where on PREEMPT_RT
  /// bottom halves, softirqs and forced-threaded handlers add nothing.
  var contextsAddToPreemptCount: Bool {
    @inline(__always) get {
      guard configuration.preemptRT else { return state.contextsDisablePreemption }
      let s = state
      return s.preemptDisableDepth | (s.hardirqDepth &- s.forcedThreadDepth) | s.nmiDepth != 0
    }
  }

  mutating func enterContext(_ context: ExecutionContext) {
    state.contexts.append(context)
    switch context {
    case .hardirq: state.hardirqDepth += 1
    case .softirq:
      if state.hardirqDepth > 0 { suspendHardirqs() }
      state.softirqDepth += 1
    case .nmi: state.nmiDepth += 1
    case .task: break
    }
  }

  /// A softirq entered inside hard interrupt handlers: they are left for
  /// as long as it runs (`ThreadState.suspendedHardirqs`).
  private mutating func suspendHardirqs() {
    state.suspendedHardirqs.append(
      SuspendedHardirqs(
        leftAt: state.contexts.count - 1, depth: state.hardirqDepth,
        forcedThreadDepth: state.forcedThreadDepth, threaded: state.hardirqsThreaded,
        depthsAtEntry: state.depthsAtHardirqEntry))
    state.hardirqDepth = 0
    state.forcedThreadDepth = 0
    state.hardirqsThreaded = false
  }

  /// The softirq at `contexts.count` (just left) had left hard interrupt
  /// handlers: they are entered again, as `irq_exit()` does after it.
  @inline(__always)
  private mutating func resumeHardirqs() {
    guard let last = state.suspendedHardirqs.last, last.leftAt == state.contexts.count
    else { return }
    state.suspendedHardirqs.removeLast()
    state.hardirqDepth = last.depth
    state.forcedThreadDepth = last.forcedThreadDepth
    state.hardirqsThreaded = last.threaded
    state.depthsAtHardirqEntry = last.depthsAtEntry
  }

  /// Throws when entering `context` would nest more than
  /// `maxContextDepth` interrupt-like contexts.
  func checkContextRoom(_ context: ExecutionContext) throws(EventError) {
    guard state.contexts.count < Self.maxContextDepth else {
      throw EventError(
        "\(Self.verbName(context))-enter: more than \(Self.maxContextDepth) "
          + "interrupt contexts nested")
    }
  }

  /// `hardirq-enter`, `threaded` or not.
  mutating func enterHardirq(threaded: Bool) {
    // lockdep clears `hardirq_threaded` only when the CPU's hardirq
    // nesting goes from 0 to 1 (`lockdep_hardirq_enter()`): a handler
    // nested in a threaded one counts as threaded.
    // And `lockdep_hardirq_threaded()` sets it for the task: a threaded
    // handler nested in one that is not makes that one threaded too,
    // until it ends.
    // So the handlers entered are all threaded or none is
    // (`hardirqsThreaded`), and a handler's entry costs the same however
    // deep the nesting: only the first threaded one in a nesting of
    // others turns them (each once) into threaded ones.
    if configuration.preemptRT && state.hardirqDepth > 0 && threaded != state.hardirqsThreaded {
      enterHardirqAlone(threaded: threaded)
      return
    }
    let outerThreaded = state.hardirqsThreaded
    if state.hardirqDepth == 0 { state.depthsAtHardirqEntry = state.depths }
    if threaded && !outerThreaded && state.hardirqDepth > 0 {
      for i in state.contexts.indices where state.contexts[i] == .hardirq(threaded: false) {
        state.contexts[i] = .hardirq(threaded: true)
      }
    }
    state.hardirqsThreaded = threaded || outerThreaded
    enterContext(.hardirq(threaded: threaded || outerThreaded))
    countForcedThreads()
  }

  /// On PREEMPT_RT, a handler entered inside handlers of the other kind:
  /// a forced-threaded one runs in its irq thread, a task of its own
  /// (`irq_setup_forced_threading()` sets `IRQF_ONESHOT`, so the kernel
  /// never calls `lockdep_hardirq_threaded()` there, and a hard handler
  /// does not make it one), and a hard one (`IRQF_NO_THREAD`) that
  /// interrupts an irq thread is a hard interrupt alone
  /// (`irq_forced_thread_fn()` leaves interrupts on there). The handlers
  /// entered are left until it ends, as a softirq leaves them
  /// (`suspendHardirqs()`): neither's locks, limit or counts are the
  /// other's.
  private mutating func enterHardirqAlone(threaded: Bool) {
    state.contexts.append(.hardirq(threaded: threaded))
    suspendHardirqs()
    state.depthsAtHardirqEntry = state.depths
    state.hardirqsThreaded = threaded
    state.hardirqDepth = 1
    countForcedThreads()
  }

  /// `forcedThreadDepth`: with `--preempt-rt`, every threaded handler
  /// entered (one made threaded by a threaded handler nested in it too):
  /// all handlers entered, or none.
  @inline(__always)
  mutating func countForcedThreads() {
    guard configuration.preemptRT else { return }
    state.forcedThreadDepth = state.hardirqsThreaded ? state.hardirqDepth : 0
  }

  /// Pops the innermost interrupt context (there must be one) and counts
  /// it out of its depth.
  @inline(__always)
  mutating func leaveInnermostContext() {
    switch state.contexts.removeLast() {
    case .hardirq:
      state.hardirqDepth &-= 1
      if state.hardirqDepth == 0 { state.hardirqsThreaded = false }
      countForcedThreads()
      if !state.suspendedHardirqs.isEmpty { resumeHardirqs() }
    case .softirq:
      state.softirqDepth &-= 1
      if !state.suspendedHardirqs.isEmpty { resumeHardirqs() }
    case .nmi: state.nmiDepth &-= 1
    case .task: break
    }
  }

  /// Leaves the innermost interrupt context, which must be `context`'s kind.
  /// Locks its handler still holds are reported and dropped.
  mutating func exitContext(_ context: ExecutionContext, _ event: LockEvent) throws(EventError) {
    let name = Self.verbName(context)
    guard let innermost = state.contexts.last else {
      throw EventError("\(name)-exit without \(name)-enter")
    }
    guard Self.verbName(innermost) == name else {
      throw EventError(
        "\(name)-exit inside \(Self.verbName(innermost))-enter: contexts must nest")
    }
    let segmentContext = state.irqContext
    leaveInnermostContext()
    if state.irqContext != segmentContext {
      var start = state.held.count
      while start > 0 && state.held[start - 1].irqContext == segmentContext { start -= 1 }
      if start < state.held.count {
        // A `local_bh` map (PREEMPT_RT) goes unreported, as the bottom-half
        // count the handler left does, and is forgotten.
        let leaked = state.held[start...].filter { !isLocalBottomHalf($0) }.map(\.lockClass)
        // Report while the handler's locks are still on the stack.
        if !leaked.isEmpty {
          reportNow(
            .locksHeldAtExit, origin: event.origin, lock: nil,
            detail: .locksHeldAtExit(interrupt: name), classes: leaked)
        }
        state.chainKey = state.held[start].previousChainKey
        // Their release later (the kernel keeps them held, and finds them
        // at their unlock) follows this report: no bad unlock balance.
        // An `rcu_bh` section among them ends with its handler, as the
        // handler's bottom-half count does (`handle_softirqs()` puts the
        // preempt count back; an irq thread's is its own): not at that
        // release.
        var sections = 0
        for var lock in state.held[start...] where !isLocalBottomHalf(lock) {
          if lock.endsBottomHalfSection {
            sections += 1
            lock.endsBottomHalfSection = false
          }
          rememberDropped(lock, at: event.origin)
        }
        state.held.removeAll(from: start)
        for _ in 0..<sections {
          leaveRCUBottomHalfSection(at: event.origin, releasingMap: false)
        }
      }
    }
  }

  static func verbName(_ context: ExecutionContext) -> String {
    switch context {
    case .hardirq: "hardirq"
    case .softirq: "softirq"
    case .nmi: "nmi"
    case .task: "task"
    }
  }

  /// `irq-enable`: when interrupts come back on, every held lock becomes
  /// hardirq-enabled (and softirq-enabled if bottom halves are on), as
  /// lockdep's `mark_held_locks()`. As in `lockdep_hardirqs_on_prepare()`,
  /// the locks are marked before interrupts count as on, so a finding
  /// that marking makes prints `HE0`.
  mutating func enableIRQs(_ event: LockEvent) throws(EventError) {
    guard state.irqDisableDepth > 0 else {
      throw EventError("irq-enable without irq-disable")
    }
    defer { state.irqDisableDepth -= 1 }
    guard state.irqDisableDepth == 1, !state.inHardirq, state.nmiDepth == 0 else { return }
    markHeldLocks(.enabledHardirq, origin: event.origin)
    if state.softirqsEnabled {
      markHeldLocks(.enabledSoftirq, origin: event.origin)
      state.softirqsOnUnmarked = false
    }
  }

  /// `bh-enable`: when bottom halves come back on with interrupts on, every
  /// held lock becomes softirq-enabled.
  ///
  /// Counted as lockdep counts `__local_bh_enable_ip()` (`IrqTrace`): with
  /// interrupts on, it turns them off around its work (`local_irq_disable()`,
  /// traced), counts bottom halves on (`lockdep_softirqs_on()`), and turns
  /// interrupts back on, whose `lockdep_hardirqs_on_prepare()` marks the
  /// held locks before the change is counted: a finding the marking makes
  /// shows bottom halves on and interrupts off at this event.
  mutating func enableBottomHalves(_ event: LockEvent) throws(EventError) {
    guard state.bhDisableDepth > 0 else {
      throw EventError("bh-enable without bh-disable")
    }
    releaseLocalBottomHalf(at: event.origin)
    lowerBottomHalfCount(at: event.origin)
  }

  /// `rcu_read_lock_bh()`'s `local_bh_disable()`, before its lockdep map
  /// is taken at `origin` (an `acquire` of an `rcu_bh` class, which the
  /// full path takes): as a `bh-disable`, and counted in the irq event
  /// stamps here (an acquisition's event counts nothing else).
  mutating func enterRCUBottomHalfSection(at origin: Origin) {
    takeLocalBottomHalf(at: origin)
    let before = state.irqTraceState
    noteDisablingPreemption(at: origin)
    state.bhDisableDepth += 1
    state.irqTrace.note(from: before, to: state.irqTraceState, at: origin)
  }

  /// `rcu_read_unlock_bh()`'s `local_bh_enable()`, after its lockdep map
  /// was released at `origin` (a held lock that `endsBottomHalfSection`),
  /// or its handler returned with it held: as a `bh-enable`, unless the
  /// stream enabled bottom halves already. `releasingMap`: on PREEMPT_RT,
  /// the section's `local_bh` map goes too (a handler's section took none).
  mutating func leaveRCUBottomHalfSection(at origin: Origin, releasingMap: Bool = true) {
    guard state.bhDisableDepth > 0 else { return }
    if releasingMap { releaseLocalBottomHalf(at: origin) }
    lowerBottomHalfCount(at: origin)
  }

  /// `enableBottomHalves` once the stream allowed it (a disable to end),
  /// for the event at `origin`; the quiet path's too, whose held locks
  /// are marked already (`markHeldLocks` then returns at once).
  @inline(never)
  mutating func lowerBottomHalfCount(at origin: Origin) {
    let bracketed = !state.hardirqsOff
    if bracketed { state.irqTrace.noteHardirqs(off: true, at: origin) }
    state.bhDisableDepth -= 1
    if state.softirqsEnabled { state.irqTrace.noteSoftirqs(off: false, at: origin) }
    if state.softirqsEnabled && !bracketed && state.held.count > 0 {
      state.softirqsOnUnmarked = true
    }
    if state.softirqsEnabled && bracketed && state.held.count > 0 {
      // Marked in `lockdep_hardirqs_on_prepare()`, before interrupts
      // count as on again: a finding of the marking shows `HE0`, as the
      // stamps show interrupts off (an `irq-enable`'s marking does too).
      // With no lock held there is nothing to mark (the common case).
      state.irqDisableDepth += 1
      markHeldLocks(.enabledSoftirq, origin: origin)
      state.irqDisableDepth -= 1
    }
    if bracketed { state.irqTrace.noteHardirqs(off: false, at: origin) }
  }
}
