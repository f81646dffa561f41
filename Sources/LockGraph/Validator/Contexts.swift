import WaitContext

extension LockValidator {
  mutating func enterContext(_ context: ExecutionContext, _ event: LockEvent) {
    let t = event.thread.index
    threads[t].contexts.append(context)
    switch context {
    case .hardirq: threads[t].hardirqDepth += 1
    case .softirq: threads[t].softirqDepth += 1
    case .nmi: threads[t].nmiDepth += 1
    case .task: break
    }
  }

  /// Leaves the innermost interrupt context, which must be `context`'s kind.
  /// Locks its handler still holds are reported and dropped.
  mutating func exitContext(_ context: ExecutionContext, _ event: LockEvent) throws(EventError) {
    let t = event.thread.index
    let name = Self.verbName(context)
    guard let innermost = threads[t].contexts.last else {
      throw EventError("\(name)-exit without \(name)-enter")
    }
    guard Self.verbName(innermost) == name else {
      throw EventError(
        "\(name)-exit inside \(Self.verbName(innermost))-enter: contexts must nest")
    }
    let segmentContext = threads[t].irqContext
    threads[t].contexts.removeLast()
    switch context {
    case .hardirq: threads[t].hardirqDepth -= 1
    case .softirq: threads[t].softirqDepth -= 1
    case .nmi: threads[t].nmiDepth -= 1
    case .task: break
    }
    if threads[t].irqContext != segmentContext {
      var start = threads[t].held.count
      while start > 0 && threads[t].held[start - 1].irqContext == segmentContext { start -= 1 }
      if start < threads[t].held.count {
        let leaked = threads[t].held[start...].map(\.lockClass)
        // Report while the handler's locks are still on the stack.
        report(
          .locksHeldAtExit, thread: t, origin: event.origin, lock: nil,
          detail: .locksHeldAtExit(interrupt: name), classes: leaked)
        threads[t].chainKey = threads[t].held[start].previousChainKey
        threads[t].held.removeSubrange(start...)
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
  /// lockdep's `mark_held_locks()`.
  mutating func enableIRQs(_ event: LockEvent) throws(EventError) {
    let t = event.thread.index
    guard threads[t].irqDisableDepth > 0 else {
      throw EventError("irq-enable without irq-disable")
    }
    threads[t].irqDisableDepth -= 1
    guard !threads[t].hardirqsOff else { return }
    markHeldLocks(thread: t, .enabledHardirq, origin: event.origin)
    if threads[t].softirqsEnabled {
      markHeldLocks(thread: t, .enabledSoftirq, origin: event.origin)
    }
  }

  /// `bh-enable`: when bottom halves come back on with interrupts on, every
  /// held lock becomes softirq-enabled.
  mutating func enableBottomHalves(_ event: LockEvent) throws(EventError) {
    let t = event.thread.index
    guard threads[t].bhDisableDepth > 0 else {
      throw EventError("bh-enable without bh-disable")
    }
    threads[t].bhDisableDepth -= 1
    if threads[t].softirqsEnabled && !threads[t].hardirqsOff {
      markHeldLocks(thread: t, .enabledSoftirq, origin: event.origin)
    }
  }
}
