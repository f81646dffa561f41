import Allocator
import Foundation
import Lockdep
import RCU
import Testing

/// `callRCU`, `kvfreeRCU(_:head:)` and a thread's first read-side section
/// may be called from any context, a hard interrupt included, so the raw
/// locks they take must be irq-safe everywhere: taken with interrupts off
/// (the kernel's `local_irq_save()` before `raw_spin_lock()`), or a call in
/// task context and one in a hard interrupt are an inconsistent lock state.
@Suite(.serialized)
struct IRQContextTests {
  init() { LockValidation.policy = .collect }

  /// The process's findings (on any thread: the RCU threads run outside
  /// every scope) of irq-safety kinds that name `lock`.
  private func irqFindings(naming lock: String) -> [String] {
    LockValidation.findings
      .filter { $0.kind == .inconsistentLockState || $0.kind == .irqLockInversion }
      .map(LockValidation.describe)
      .filter { $0.contains(lock) }
  }

  @Test("callRCU in task context, then in a hard interrupt: no irq-safety finding")
  func callRCUFromHardIRQ() {
    let ran = Shared()
    let scope = LockValidationScope()
    scope.run {
      callRCU { ran.add() }
      Checked.withHardIRQ { callRCU { ran.add() } }
    }
    rcuBarrier()
    #expect(ran.now == 2)
    #expect(scope.findings.isEmpty, "\(scope.findings.map(\.text))")
    #expect(irqFindings(naming: "rcu_callback_lock").isEmpty)
  }

  @Test(
    "kvfreeRCU(p, head:) in task context, then in a hard interrupt: no irq-safety finding",
    arguments: [KvfreeDesign.noLocks, .nolock, .deferred])
  func kvfreeFromHardIRQ(design: KvfreeDesign) {
    let pages = PageAllocator(pages: 128, cpus: 1)
    let slab = SlabAllocator(pages: pages)
    do {
      let kv = KvfreeRCU(
        slab: slab, pages: pages, design: design, cpus: 1, drainDelayMicroseconds: 0)
      let scope = LockValidationScope()
      scope.run {
        let first = TestObject.make(slab)
        kv.kvfreeRCU(first, head: TestObject.head(first))
        // The worker's pass takes &krcp->lock too (detach, recycle).
        kv.barrier()
        let second = TestObject.make(slab)
        Checked.withHardIRQ { kv.kvfreeRCU(second, head: TestObject.head(second)) }
        kv.barrier()
        kv.shrink()
      }
      #expect(kv.statistics.objectsFreed == 2)
      #expect(scope.findings.isEmpty, "\(scope.findings.map(\.text))")
    }
    #expect(irqFindings(naming: "&krcp->lock").isEmpty)
    #expect(slab.objectsInUse == 0)
  }

  @Test("A thread's first read-side section in a hard interrupt: no irq-safety finding")
  func firstSectionFromHardIRQ() {
    let scope = LockValidationScope()
    // Registered in a hard interrupt (the thread's first section)...
    startThreads(1) { _ in scope.run { Checked.withHardIRQ { withRCURead {} } } }()
    // ...while grace periods scan the registry in task context.
    scope.run { synchronizeRCU() }
    #expect(scope.findings.isEmpty, "\(scope.findings.map(\.text))")
    #expect(irqFindings(naming: "rcu_registry_lock").isEmpty)
  }
}
