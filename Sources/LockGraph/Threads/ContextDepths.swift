/// How deep a thread has disabled preemption, interrupts and bottom
/// halves, and how many softirqs it is serving: the counts that make it
/// atomic, apart from the locks it holds and the hard interrupts it serves.
struct ContextDepths: Sendable, Equatable {
  /// `preempt-disable` sections.
  var preemptDisable: Int32 = 0
  /// `irq-disable` sections.
  var irqDisable: Int32 = 0
  /// `bh-disable` sections.
  var bhDisable: Int32 = 0
  /// Softirqs entered.
  var softirq: Int32 = 0

  /// What was added to each count since `base` (none where a count fell
  /// below it).
  func since(_ base: ContextDepths) -> ContextDepths {
    ContextDepths(
      preemptDisable: max(0, preemptDisable - base.preemptDisable),
      irqDisable: max(0, irqDisable - base.irqDisable),
      bhDisable: max(0, bhDisable - base.bhDisable), softirq: max(0, softirq - base.softirq))
  }
}
