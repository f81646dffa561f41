import Testing
import WaitContext

@testable import LockGraph

/// lockdep is off in an NMI (`__nmi_enter()` calls `lockdep_off()`), but
/// `lock_acquire()` still runs `verify_lock_unused()` for an acquisition
/// there that is not a trylock: a class used before is reported as
/// `inconsistent {INITIAL USE} -> {IN-NMI} usage` (the NMI may come while
/// the lock is held), where reads only conflict with a write use. An NMI
/// marks no usage bits. This validator's own, stricter rule for NMIs (the
/// wait type `free`) finds a class's first use there.
@Suite struct NMIUsageTests {
  /// The kernel's report of a BPF LPM trie: `krc.lock`, taken with
  /// interrupts off in task context, then in an NMI.
  @Test func aClassUsedBeforeIsReportedOnceInAnNMI() throws {
    var s = Scenario()
    s.lock("krc", .rawSpinlock)
    try s.event(.irqDisable)
    s.acquire("krc")
    s.release("krc")
    try s.event(.irqEnable)
    try s.event(.nmiEnter, on: "262")
    s.acquire("krc", on: "262")
    #expect(s.kinds == [.inconsistentLockState])
    guard
      case .inconsistentLockState(let previous, let new, let origin, let irqState) = s.findings[0]
        .detail
    else { return }
    #expect(previous == .used && new == .inNMI)
    // `nmi_enter()` adds HARDIRQ_OFFSET (`hardirq_count()`) and calls
    // `lockdep_hardirq_enter()` (`lockdep_hardirq_context()`); interrupts
    // are off.
    #expect(irqState == "HC1[1]:SC0[0]:HE0:SE1")
    #expect(previous.usageString == "INITIAL USE" && new.usageString == "IN-NMI")
    #expect(origin != nil)
  }

  /// Readers alone never conflict (RCU): a read in an NMI of a class only
  /// read before is nothing; a write of it, or a read of a class written
  /// before, is reported. A trylock is not checked at all.
  @Test func readsConflictOnlyWithWrites() throws {
    var s = Scenario()
    s.lock("r", .rwlock, inner: .free)
    s.lock("w", .rwlock, inner: .free)
    s.acquire("r", read: .shared)
    s.release("r")
    s.acquire("w")
    s.release("w")
    try s.event(.nmiEnter)
    s.acquire("r", read: .shared)
    s.release("r")
    s.acquire("w", try: true)
    s.release("w")
    #expect(s.kinds.isEmpty)
    s.acquire("w", read: .shared)
    s.release("w")
    #expect(s.kinds == [.inconsistentLockState])
    s.acquire("r")
    #expect(s.kinds == [.inconsistentLockState, .inconsistentLockState])
  }

  /// An NMI marks no usage: a lock first taken there (an invalid wait
  /// context, this validator's rule) and then with interrupts on in task
  /// context is no inconsistent lock state, and a second NMI's acquisition
  /// of it finds the task's use.
  @Test func anNMIMarksNoUsage() throws {
    var s = Scenario()
    s.lock("raw", .rawSpinlock)
    try s.event(.nmiEnter)
    s.acquire("raw")
    s.release("raw")
    try s.event(.nmiExit)
    #expect(s.kinds == [.invalidWaitContext])
    #expect(s.validator.classes.usage(s.id("raw")).isEmpty)
    s.acquire("raw")
    s.release("raw")
    #expect(s.kinds == [.invalidWaitContext])
    try s.event(.nmiEnter)
    s.acquire("raw")
    #expect(s.kinds == [.invalidWaitContext, .inconsistentLockState])
  }

  /// Nothing is held in an NMI (`lock_release()` returns at once there
  /// too): locks nested in one add no dependency (A then B in an NMI, B
  /// then A in the task is no cycle), and a lock the interrupted task
  /// holds taken again in the NMI is the kernel's one finding, not also
  /// recursive locking.
  @Test func nothingIsHeldInAnNMI() throws {
    var s = Scenario()
    s.lock("A", .custom, inner: .free)
    s.lock("B", .custom, inner: .free)
    try s.event(.nmiEnter)
    s.acquire("A")
    s.acquire("B")
    s.release("B")
    s.release("A")
    try s.event(.nmiExit)
    s.acquire("B")
    s.acquire("A")
    s.release("A")
    s.release("B")
    #expect(s.kinds.isEmpty)
    #expect(s.validator.graph.edges.count == 1)

    var t = Scenario()
    t.lock("L", .spinlock)
    t.acquire("L")
    try t.event(.nmiEnter)
    t.acquire("L")
    t.release("L")
    try t.event(.nmiExit)
    t.release("L")
    #expect(t.kinds == [.inconsistentLockState])
    #expect(t.validator.heldLocks(of: t.thread("1")).isEmpty)
  }
  /// A might-lock in an NMI pushes nothing (lockdep is off there), so it
  /// must drop nothing: it dropped the task's own lock of its class, whose
  /// release was then a false `bad-unlock-balance` (found by a review).
  @Test func aMightLockInAnNMIDropsNoHeldLock() throws {
    var s = Scenario()
    s.lock("A", .spinlock)
    s.acquire("A")
    try s.event(.nmiEnter)
    s.mightLock("A")
    try s.event(.nmiExit)
    #expect(s.validator.heldLocks(of: s.thread("1")).count == 1)
    s.release("A")
    #expect(!s.kinds.contains(.badUnlockBalance), "\(s.kinds)")
    #expect(s.validator.heldLocks(of: s.thread("1")).isEmpty)
  }
}
