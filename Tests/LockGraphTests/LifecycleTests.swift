import LockGraph
import Testing
import WaitContext

@Suite struct LifecycleTests {
  @Test func releaseOfALockNotHeld() {
    var s = Scenario()
    s.lock("A", .spinlock)
    s.release("A")
    #expect(s.kinds == [.badUnlockBalance])
  }

  @Test func releaseInsideAnInterruptOfATaskLock() throws {
    var s = Scenario()
    s.lock("A", .spinlock)
    s.acquire("A")
    try s.event(.hardirqEnter)
    s.release("A")
    #expect(s.kinds == [.badUnlockBalance])
  }

  @Test func releaseMatchesTheInstance() {
    var s = Scenario()
    s.lock("A", .spinlock)
    s.acquire("A", inst: 0x10)
    s.acquire("A", sub: 1, inst: 0x20)
    s.release("A", inst: 0x10)
    #expect(s.kinds.isEmpty)
    #expect(s.validator.heldLocks(of: s.thread("1")).map(\.instance) == [0x20])
  }

  @Test func freeingMemoryWithAHeldLock() {
    var s = Scenario()
    s.lock("A", .spinlock)
    s.acquire("A", on: "1", inst: 0x1008)
    s.free(0x2000, 64, on: "2")
    #expect(s.kinds.isEmpty)
    s.free(0x1000, 64, on: "2")
    #expect(s.kinds == [.heldLockFreed])
    guard case .heldLockFreed(_, _, let holder, let reinit) = s.findings[0].detail else { return }
    #expect(holder == s.thread("1"))
    #expect(!reinit)
  }

  @Test func reinitializingAHeldLock() {
    var s = Scenario()
    s.lock("A", .spinlock)
    s.acquire("A", inst: 0x40)
    s.initLock("A", inst: 0x40)
    #expect(s.kinds == [.heldLockFreed])
  }

  @Test func exitWithLocksHeld() throws {
    var s = Scenario()
    s.lock("A", .mutex)
    s.acquire("A")
    try s.event(.exit)
    #expect(s.kinds == [.locksHeldAtExit])
    #expect(s.findings[0].held.count == 1)
    #expect(s.validator.heldLocks(of: s.thread("1")).isEmpty)
  }

  @Test func interruptHandlerReturningWithALockHeld() throws {
    var s = Scenario()
    s.lock("A", .rawSpinlock)
    try s.event(.hardirqEnter)
    s.acquire("A")
    try s.event(.hardirqExit)
    #expect(s.kinds == [.locksHeldAtExit])
    #expect(s.validator.heldLocks(of: s.thread("1")).isEmpty)
  }

  @Test func mightLockChecksWithoutHolding() {
    var s = Scenario()
    s.lock("raw", .rawSpinlock)
    s.lock("m", .mutex)
    s.acquire("raw")
    s.mightLock("m")
    #expect(s.kinds.contains(.invalidWaitContext))
    #expect(s.validator.heldLocks(of: s.thread("1")).count == 1)
  }

  @Test func heldDepthLimitStopsTheThread() {
    var s = Scenario()
    s.lock("A", .spinlock)
    for i in 0...LockValidator.maxHeldDepth {
      s.acquire("A", sub: 0, nest: nil, inst: UInt64(i + 1))
    }
    #expect(s.kinds.contains(.limitExceeded))
  }
}
