import LockGraph
import Testing
import WaitContext

/// Interrupt-like contexts as a PREEMPT_RT kernel's lockdep sees them.
@Suite struct PreemptRTContextTests {
  private static let rt = CheckConfiguration(preemptRT: true)

  /// An RT kernel's lockdep has no softirq context (`lockdep_softirq_enter()`
  /// is empty there since "lockdep: Remove softirq accounting on
  /// PREEMPT_RT"): a softirq's locks are of the task's `irq_context`, and
  /// `check_prevs_add()` records a dependency from the lock the task holds
  /// (RT runs pending softirqs in the task that enables bottom halves,
  /// which may hold a `spinlock_t`). `A` held, a softirq taking `B`, and
  /// `B` then `A` elsewhere is a cycle there, and no cycle without
  /// PREEMPT_RT, where the softirq's chain is its own.
  @Test func aSoftirqsLocksChainWithTheTasksOnRT() throws {
    func run(_ configuration: CheckConfiguration) throws -> [FindingKind] {
      var s = Scenario(configuration)
      s.lock("a", .spinlock)
      s.lock("b", .spinlock)
      s.acquire("a")
      try s.event(.softirqEnter)
      s.acquire("b")
      s.release("b")
      try s.event(.softirqExit)
      s.release("a")
      s.acquire("b", on: "2")
      s.acquire("a", on: "2")
      return s.kinds
    }
    #expect(try run(Self.rt) == [.circularDependency])
    #expect(try run(CheckConfiguration()).contains(.circularDependency) == false)
  }
}
