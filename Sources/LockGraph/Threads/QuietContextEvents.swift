import WaitContext

extension ThreadValidator {
  /// `processQuietContextEvent(_:threaded:origin:)` of a batch's event
  /// `event`, numbered `number`, out of line: context events are a few in
  /// a hundred, and their switch inlined into the batch's loop made it
  /// keep its values on the stack for every event.
  @inline(never)
  mutating func processQuietContextEvent(_ event: UnsafePointer<LockEvent>, number: Int64) -> Bool {
    processQuietContextEvent(
      event.pointee.verb, threaded: event.pointee.threaded,
      origin: {
        var origin = event.pointee.origin
        origin.event = number
        return origin
      }())
  }

  /// `process(_:)` of an event that enters or leaves an interrupt-like
  /// context or turns interrupts, bottom halves or preemption off or on
  /// (verbs `hardirqEnter` through `preemptEnable`), on a validated
  /// thread, when the event is quiet: it is accepted and reports, marks
  /// and records nothing, so it only changes the thread's counts and
  /// contexts, as `process(_:)` changes them. Returns false, having
  /// changed nothing, for any other: an exit or enable the stream does not
  /// allow (`process(_:)` refuses it), an exit that leaves a handler's
  /// locks held (reported), an enable that makes a held lock irq- or
  /// softirq-enabled for the first time (marked, and checked).
  ///
  /// Lets a trace's validator take the common context events without
  /// copying them, as it takes acquisitions and releases.
  /// `origin` is the event's (numbered): where an interrupt state change
  /// it makes is noted (`IrqTrace`).
  @inline(__always)
  mutating func processQuietContextEvent(
    _ verb: LockEvent.Verb, threaded: Bool, origin: @autoclosure () -> Origin
  ) -> Bool {
    let irqBefore = state.irqTraceState
    // On PREEMPT_RT, bottom halves go off and on with the `local_bh` map
    // (`LocalBottomHalf`): an acquisition and a release, on the full path.
    if configuration.preemptRT && (verb == .bhDisable || verb == .bhEnable) { return false }
    switch verb {
    case .irqDisable: state.irqDisableDepth &+= 1
    case .bhDisable:
      noteDisablingPreemption(at: origin())
      state.bhDisableDepth &+= 1
    case .preemptDisable:
      noteDisablingPreemption(at: origin())
      state.preemptDisableDepth &+= 1
    case .preemptEnable:
      guard state.preemptDisableDepth > 0 else { return false }
      state.preemptDisableDepth &-= 1
    case .irqEnable:
      // `enableIRQs`: the held locks are marked when interrupts come back
      // on in task context.
      guard state.irqDisableDepth > 0 else { return false }
      if state.irqDisableDepth == 1 && !state.inHardirq && state.nmiDepth == 0 {
        guard heldLocksMarked(.enabledHardirq),
          !state.softirqsEnabled || heldLocksMarked(.enabledSoftirq)
        else { return false }
      }
      state.irqDisableDepth &-= 1
    case .bhEnable:
      // `enableBottomHalves`: marked when the count reaches 0 with
      // interrupts on, outside softirq context.
      guard state.bhDisableDepth > 0 else { return false }
      if state.bhDisableDepth == 1 && state.softirqDepth == 0 && !state.hardirqsOff {
        guard heldLocksMarked(.enabledSoftirq) else { return false }
      }
      lowerBottomHalfCount(at: origin())
      return true
    case .hardirqEnter:
      guard state.contexts.count < Self.maxContextDepth else { return false }
      noteDisablingPreemption(at: origin())
      enterHardirq(threaded: threaded)
    case .softirqEnter:
      guard state.contexts.count < Self.maxContextDepth else { return false }
      noteDisablingPreemption(at: origin())
      enterContext(.softirq)
    case .nmiEnter:
      guard state.contexts.count < Self.maxContextDepth else { return false }
      // Names nothing (`ThreadValidator.process(_:)`).
      noteDisablingPreemption(at: nil)
      enterContext(.nmi)
    case .hardirqExit, .softirqExit, .nmiExit:
      // `exitContext`, when it neither refuses nor reports: the innermost
      // context is of the verb's kind, and no lock of the handler's
      // segment (the newest locks, of the current interrupt context) is
      // held.
      guard let innermost = state.contexts.last,
        Self.exitVerb(of: innermost) == verb,
        state.held.top.map({ $0.irqContext != state.irqContext }) ?? true
      else { return false }
      leaveInnermostContext()
    default: return false
    }
    state.irqTrace.note(from: irqBefore, to: state.irqTraceState, at: origin())
    return true
  }

  /// The verb that leaves `context`.
  @inline(__always)
  static func exitVerb(of context: ExecutionContext) -> LockEvent.Verb? {
    switch context {
    case .hardirq: .hardirqExit
    case .softirq: .softirqExit
    case .nmi: .nmiExit
    case .task: nil
    }
  }
}
