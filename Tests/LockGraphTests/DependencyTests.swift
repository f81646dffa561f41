import LockGraph
import Testing
import WaitContext

@Suite struct DependencyTests {
  @Test func abbaIsACycleAcrossThreads() {
    var s = Scenario()
    s.lock("A", .mutex)
    s.lock("B", .mutex)
    s.acquire("A", on: "1")
    s.acquire("B", on: "1")
    s.release("B", on: "1")
    s.release("A", on: "1")
    #expect(s.kinds.isEmpty)
    s.acquire("B", on: "2")
    s.acquire("A", on: "2")
    #expect(s.kinds == [.circularDependency])
    guard case .circularDependency(let held, let chain) = s.findings[0].detail else {
      Issue.record("wrong detail")
      return
    }
    #expect(held.lockClass == s.id("B"))
    #expect(chain.map(\.lockClass) == [s.id("B"), s.id("A")], "-> #1 B, -> #0 A")
    // The lock it concerns first: the one being taken ("is trying to
    // acquire lock: &A"), then the held one.
    #expect(s.validator.core.lockNames(of: s.findings[0]) == ["&A", "&B"])
  }

  @Test func threeLockCycle() {
    var s = Scenario()
    for k in ["A", "B", "C"] { s.lock(k, .spinlock) }
    for (x, y) in [("A", "B"), ("B", "C")] {
      s.acquire(x)
      s.acquire(y)
      s.release(y)
      s.release(x)
    }
    s.acquire("C")
    s.acquire("A")
    #expect(s.kinds == [.circularDependency])
    guard case .circularDependency(_, let chain) = s.findings[0].detail else { return }
    #expect(chain.map(\.lockClass) == [s.id("C"), s.id("B"), s.id("A")])
  }

  @Test func trylockAddsNoEdge() {
    var s = Scenario()
    s.lock("A", .spinlock)
    s.lock("B", .spinlock)
    s.acquire("A")
    s.acquire("B", try: true)
    s.release("B")
    s.release("A")
    s.acquire("B")
    s.acquire("A")
    #expect(s.kinds.isEmpty)
    #expect(s.validator.graph.edges.count == 1, "only B -> A")
  }

  @Test func recursiveReadersDoNotDeadlockEachOther() {
    // A(rr) -> B and B -> A(rr): -(*R)-> then -(S*)-> is not a strong path.
    var s = Scenario()
    s.lock("A", .rwlock)
    s.lock("B", .spinlock)
    s.acquire("A", read: .recursive)
    s.acquire("B")
    s.release("B")
    s.release("A")
    s.acquire("B")
    s.acquire("A", read: .recursive)
    #expect(s.kinds.isEmpty)
  }

  @Test func nonRecursiveReaderDeadlocks() {
    // Same as above with a non-recursive read: a waiting writer blocks it.
    var s = Scenario()
    s.lock("A", .rwsem)
    s.lock("B", .mutex)
    s.acquire("A", read: .shared)
    s.acquire("B")
    s.release("B")
    s.release("A")
    s.acquire("B")
    s.acquire("A", read: .shared)
    #expect(s.kinds == [.circularDependency])
  }

  @Test func writerAgainstRecursiveReaderDeadlocks() {
    // A(w) -> B, then B -> A(rr): the reader waits for the held writer.
    var s = Scenario()
    s.lock("A", .rwlock)
    s.lock("B", .spinlock)
    s.acquire("A")
    s.acquire("B")
    s.release("B")
    s.release("A")
    s.acquire("B")
    s.acquire("A", read: .recursive)
    #expect(s.kinds == [.circularDependency])
  }

  @Test func rcuTakesNoPartInTheGraph() {
    var s = Scenario()
    s.lock("rcu", .rcu)
    s.lock("A", .spinlock)
    s.acquire("rcu")
    s.acquire("A")
    s.release("A")
    s.release("rcu")
    s.acquire("A")
    s.acquire("rcu")
    #expect(s.kinds.isEmpty)
    #expect(s.validator.graph.edges.isEmpty)
  }

  @Test func repeatedChainIsServedFromTheCache() {
    var s = Scenario()
    s.lock("A", .spinlock)
    s.lock("B", .spinlock)
    for _ in 0..<10 {
      s.acquire("A")
      s.acquire("B")
      s.release("B")
      s.release("A")
    }
    #expect(s.validator.statistics.chainMisses == 2)
    #expect(s.validator.statistics.chainHits == 18)
  }

  @Test func repeatedFindingIsCountedOnce() {
    var s = Scenario()
    s.lock("raw", .rawSpinlock)
    s.lock("m", .mutex)
    for _ in 0..<3 {
      s.acquire("raw")
      s.acquire("m")
      s.release("m")
      s.release("raw")
    }
    #expect(s.findings.filter { $0.kind == .invalidWaitContext }.map(\.count) == [3])
  }

  @Test func outOfOrderReleaseRevalidatesTheLocksAbove() {
    // A B C, release B: C is re-acquired after A, adding A -> C.
    var s = Scenario()
    for k in ["A", "B", "C"] { s.lock(k, .spinlock) }
    s.acquire("A")
    s.acquire("B")
    s.acquire("C")
    #expect(s.validator.graph.edge(from: s.id("A"), to: s.id("C")) == nil)
    s.release("B")
    #expect(s.validator.graph.edge(from: s.id("A"), to: s.id("C")) != nil)
    #expect(s.validator.heldLocks(of: s.thread("1")).map(\.lockClass) == [s.id("A"), s.id("C")])
  }

  /// A release of a lock below the newest re-validates the locks above it
  /// (lockdep's `reacquire_held_locks()` from `__lock_release()`): what
  /// that finds is found at the release, where the kernel dumps the
  /// stack, and the dependency it adds is recorded there; the re-pushed
  /// lock keeps its own acquisition (`acquire_ip`).
  @Test func aCycleFoundByReleasingOutOfOrderIsFoundAtTheRelease() throws {
    var s = Scenario()
    s.lock("A", .spinlock)
    s.lock("B", .spinlock)
    s.lock("X", .rwlock)
    // B -(ER)-> X -(SN)-> A: not a strong path, so A -> B closes no cycle.
    s.acquire("B", on: "2")  // event 0
    s.acquire("X", on: "2", read: .recursive)
    s.acquire("A", on: "2", stack: 2)
    s.acquire("A", on: "1")  // event 3
    s.acquire("B", on: "1")
    s.release("B", on: "1")
    s.release("A", on: "1")
    #expect(s.kinds.isEmpty)
    // Event 7: A goes back on top of B, adding B -> A, which closes A -> B.
    try s.validator.process(
      LockEvent(
        .release, thread: s.thread("2"), lockClass: s.id("X"),
        origin: Origin(stack: StackID(7))))
    #expect(s.kinds == [.circularDependency])
    let finding = try #require(s.findings.first)
    #expect(finding.origin.event == 7)
    #expect(finding.origin.stack == StackID(7))
    #expect(finding.lock?.origin.event == 2, "the lock line keeps A's acquisition")
    #expect(s.validator.graph.edge(from: s.id("B"), to: s.id("A")) == nil)
  }

  /// `check_prevs_add()` goes on past a trylock to the lock below it: a
  /// lock taken under `X`, then `A` tried, depends on both. When the
  /// dependency on `A` is reported (it closes a cycle), the one on `X` is
  /// still this acquisition's: checked and added, so `N` then `X` later is
  /// the cycle it is (lockdep stops at the first report because it turns
  /// itself off; this validator goes on, and dropped it).
  @Test func aReportedDependencyOnATrylockLeavesTheOneBelowIt() {
    var s = Scenario()
    for key in ["x", "a", "n"] { s.lock(key, .spinlock) }
    s.acquire("n")
    s.acquire("a")
    s.release("a")
    s.release("n")
    s.acquire("x")
    s.acquire("a", try: true)
    s.acquire("n")
    #expect(s.kinds == [.circularDependency], "n -> a against a -> n")
    s.release("n")
    s.release("a")
    s.release("x")
    s.acquire("n")
    s.acquire("x")
    #expect(s.kinds == [.circularDependency, .circularDependency], "x -> n against n -> x")
  }
}
