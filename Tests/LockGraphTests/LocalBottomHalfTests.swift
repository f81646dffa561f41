import Testing
import WaitContext

@testable import LockGraph

/// PREEMPT_RT's `local_bh` map (`bh_lock_map`, kernel/softirq.c):
/// `__local_bh_disable_ip()` takes it with `lock_map_acquire_read()`
/// (outer `LD_WAIT_FREE`, inner `LD_WAIT_CONFIG`, per-CPU) and
/// `__local_bh_enable_ip()` releases it. Without PREEMPT_RT there is no
/// such map: a bottom-half-disabled section is atomic, and a sleeping lock
/// there is a sleep in atomic context alone (`task_wait_context()` is
/// `LD_WAIT_MAX` in task context).
@Suite struct LocalBottomHalfTests {
  private static let rt = CheckConfiguration(preemptRT: true)

  /// `local_bh_disable(); mutex_lock()` on PREEMPT_RT: `might_sleep()`
  /// fails on the RCU nesting the section adds, and lockdep finds the
  /// mutex's outer `LD_WAIT_SLEEP` above the map's inner `LD_WAIT_CONFIG`,
  /// in task context (`context-{5:5}`), with `local_bh` held.
  @Test func aMutexWithBottomHalvesOffIsAnInvalidWaitContextOnRT() throws {
    var s = Scenario(Self.rt)
    s.declareRawSpinAndMutex()
    try s.event(.bhDisable)
    s.acquire("m")
    #expect(Set(s.kinds) == [.sleepInAtomic, .invalidWaitContext], "\(s.kinds)")
    let f = try #require(s.findings.first { $0.kind == .invalidWaitContext })
    guard case .invalidWaitContext(let context, let allowed, _) = f.detail else {
      Issue.record("wrong detail: \(f.detail)")
      return
    }
    #expect(context == .task, "lockdep prints task context's context-{5:5}")
    #expect(allowed == .config, "the map's inner wait type")
    #expect(s.validator.core.lockNames(of: f) == ["&m", "local_bh"])
  }

  /// Without PREEMPT_RT the section holds no map: a sleep in atomic
  /// context only.
  @Test func withoutRTTheSectionHoldsNoMap() throws {
    var s = Scenario()
    s.declareRawSpinAndMutex()
    try s.event(.bhDisable)
    s.acquire("m")
    #expect(s.kinds == [.sleepInAtomic])
    #expect(s.validator.heldLocks(of: s.thread("1")).count == 1, "the mutex alone")
  }

  /// A `spinlock_t` (outer `config`) and a raw spin lock may nest in the
  /// section; a `might_lock()` of a mutex may not (lockdep checks it as
  /// an acquisition); after the last `local_bh_enable()` a mutex is fine.
  @Test func theMapAllowsSpinlocksAndRefusesMightLockOfAMutex() throws {
    var s = Scenario(Self.rt)
    s.declareRawSpinAndMutex()
    try s.event(.bhDisable)
    s.acquire("spin")
    s.acquire("raw")
    s.release("raw")
    s.release("spin")
    #expect(s.kinds.isEmpty, "\(s.kinds)")
    s.mightLock("m")
    #expect(s.kinds == [.invalidWaitContext])
    try s.event(.bhEnable)
    s.acquire("m")
    #expect(s.kinds == [.invalidWaitContext], "nothing new once bottom halves are on")
    #expect(s.validator.heldLocks(of: s.thread("1")).count == 1, "the map was released")
  }

  /// Each `local_bh_disable()` takes the map again (a recursive read: no
  /// recursion finding), each enable drops the newest, whatever was taken
  /// after it (lockdep's `lock_map_release()` re-acquires the locks above).
  @Test func nestedSectionsEachHoldTheMap() throws {
    var s = Scenario(Self.rt)
    s.declareRawSpinAndMutex()
    let t = s.thread("1")
    try s.event(.bhDisable)
    try s.event(.bhDisable)
    s.acquire("spin")
    #expect(s.validator.heldLocks(of: t).count == 3)
    try s.event(.bhEnable)
    #expect(s.validator.heldLocks(of: t).count == 2)
    s.release("spin")
    try s.event(.bhEnable)
    #expect(s.validator.heldLocks(of: t).isEmpty)
    s.acquire("m")
    #expect(s.kinds.isEmpty, "\(s.kinds)")
  }

  /// A thread that ends with bottom halves off is no finding (as without
  /// PREEMPT_RT); one that also holds a lock is, and lockdep lists the map
  /// among its held locks.
  @Test func anExitWithBottomHalvesOffReportsOnlyOtherLocks() throws {
    var s = Scenario(Self.rt)
    s.declareRawSpinAndMutex()
    try s.event(.bhDisable)
    try s.event(.exit)
    #expect(s.kinds.isEmpty, "\(s.kinds)")
    s.acquire("spin", on: "2")
    try s.event(.bhDisable, on: "2")
    try s.event(.exit, on: "2")
    let f = try #require(s.findings.first)
    #expect(f.kind == .locksHeldAtExit)
    #expect(s.validator.core.lockNames(of: f) == ["&spin", "local_bh"])
  }

  /// A thread that stops being validated (past 1,024 held locks) inside a
  /// section is validated again once it released them and enabled bottom
  /// halves: the map counts with the section's own count, once (it was
  /// counted twice, and the thread stayed unvalidated until it exited; an
  /// `rcu_read_lock_bh()` section held at the stop too).
  @Test func aThreadStoppedInASectionResumesAfterIt() throws {
    for rt in [true, false] {
      var s = Scenario(CheckConfiguration(preemptRT: rt))
      s.lock("rcu_bh", .rcuBH)
      let count = ThreadValidator.maxHeldDepth + 1
      for i in 0..<count { s.lock("c\(i)", .spinlock) }
      try s.event(.bhDisable)
      s.acquire("rcu_bh", read: .recursive)
      for i in 0..<count { s.acquire("c\(i)") }
      #expect(s.kinds == [.limitExceeded], "rt \(rt): \(s.kinds)")
      for i in (0..<count).reversed() { s.release("c\(i)") }
      s.release("rcu_bh")
      try s.event(.bhEnable)
      // A Bool, not the validator, in the expectation (which reflects
      // what it shows).
      let stopped = s.validator.validator(of: s.thread("1"))?.isStopped
      #expect(stopped == false, "rt \(rt): validated again")
    }
  }

  /// A section takes the map in any context but an NMI, as the kernel's
  /// (which warns in a hard interrupt); a `bh-enable` releases the newest
  /// map wherever it was taken (`find_held_lock()` looks at every held
  /// lock): one a task took, enabled in a handler, is gone when the
  /// handler returns (it stayed held, and a mutex after it was a false
  /// invalid wait context). A section a handler leaves open drops its map
  /// unreported.
  @Test func theMapFollowsTheCountAcrossContexts() throws {
    var s = Scenario(Self.rt)
    s.declareRawSpinAndMutex()
    let t = s.thread("1")
    try s.event(.softirqEnter)
    try s.event(.bhDisable)
    #expect(s.validator.heldLocks(of: t).count == 1)
    try s.event(.bhEnable)
    try s.event(.softirqExit)
    #expect(s.validator.heldLocks(of: t).isEmpty)
    try s.event(.bhDisable)
    try s.event(.hardirqEnter, threaded: true)
    try s.event(.bhEnable)
    try s.event(.hardirqExit)
    #expect(s.validator.heldLocks(of: t).isEmpty, "released from the handler")
    s.acquire("m")
    s.release("m")
    #expect(s.kinds.isEmpty, "\(s.kinds)")
    try s.event(.hardirqEnter, threaded: true)
    try s.event(.bhDisable)
    try s.event(.hardirqExit)
    #expect(s.kinds.isEmpty, "a handler's open section is no finding: \(s.kinds)")
    #expect(s.validator.heldLocks(of: t).isEmpty)
  }

  /// `rcu_read_lock_bh()` is `local_bh_disable()` (the map) then its own
  /// map; `rcu_read_unlock_bh()` releases both. A section a threaded
  /// handler leaves open ends with the handler and releases no map of the
  /// task it interrupted.
  @Test func anRCUBottomHalfSectionHoldsTheMapBelowItsOwn() throws {
    var s = Scenario(Self.rt)
    s.declareRawSpinAndMutex()
    s.lock("rcu_bh", .rcuBH)
    let t = s.thread("1")
    s.acquire("rcu_bh", read: .recursive)
    let held = s.validator.heldLocks(of: t).map { s.validator.core.classes[$0.lockClass].name }
    #expect(held == ["local_bh", "&rcu_bh"])
    s.release("rcu_bh")
    #expect(s.validator.heldLocks(of: t).isEmpty)
    try s.event(.bhDisable)
    try s.event(.hardirqEnter, threaded: true)
    s.acquire("rcu_bh", read: .recursive)
    try s.event(.hardirqExit)
    #expect(s.kinds == [.locksHeldAtExit])
    #expect(s.validator.heldLocks(of: t).count == 1, "the task's own map stays")
    s.mightLock("m")
    #expect(s.kinds.contains(.invalidWaitContext))
  }

  /// The map is only ever taken as a recursive reader, so lockdep's
  /// strong-path search never goes through it (`-(*R)->` then
  /// `-(R*)->`), and `check_prevs_add()` stops at it, the newest held
  /// lock: `a` held, bottom halves off, `b` taken records `a -> local_bh
  /// -> b` and no `a -> b`, so `b` then `a` elsewhere closes no cycle on
  /// PREEMPT_RT, while without it the same events are an inversion.
  @Test func theMapHidesTheOrderOfLocksAroundIt() throws {
    func run(_ configuration: CheckConfiguration) throws -> [FindingKind] {
      try Scenario.kindsOfOrderAround(configuration, enter: .bhDisable, exit: .bhEnable)
    }
    #expect(try run(Self.rt).isEmpty)
    #expect(try run(CheckConfiguration()) == [.circularDependency])
  }
}
