import LockGraph
import Testing

/// A chain that produced findings is not cached: each repeat is counted
/// (README). A repeat that changes nothing is counted from the thread's
/// memo (`FindingReplay`) rather than validated again; these check that it
/// counts exactly what a validation would, where a validation would find
/// something else.
@Suite struct FindingReplayTests {
  /// lockdep's `check_noncircular()` reports the path its breadth-first
  /// search finds in the graph as it is then: once a dependency A -> C
  /// joins A -> B -> C, the path from A back to C is the direct one, and a
  /// repeat of C then A is another cycle (other classes), a finding of its
  /// own, not one more of the first.
  @Test func aRepeatAfterTheGraphChangedIsValidatedAgainstIt() {
    var s = Scenario()
    for k in ["A", "B", "C"] { s.lock(k, .mutex) }
    s.acquire("A")
    s.acquire("B")
    s.acquire("C")
    s.release("C")
    s.release("B")
    s.release("A")
    func inversion(_ s: inout Scenario) {
      s.acquire("C", stack: 1)
      s.acquire("A", stack: 2)
      s.release("A")
      s.release("C")
    }
    for _ in 0..<3 { inversion(&s) }
    #expect(s.kinds == [.circularDependency])
    #expect(s.findings.first?.count == 3)
    s.acquire("A")
    s.acquire("C")
    s.release("C")
    s.release("A")
    for _ in 0..<2 { inversion(&s) }
    #expect(s.kinds == [.circularDependency, .circularDependency])
    #expect(s.findings.map(\.count) == [3, 2])
    let chains = s.findings.map { f -> Int in
      guard case .circularDependency(_, let chain) = f.detail else { return -1 }
      return chain.count
    }
    #expect(chains == [3, 2])
  }

  /// Findings are told apart by their site (spec/reports.md: the same
  /// kind, classes and stack is one finding): the same inversion reached
  /// from more sites than the memo holds, in turn, counts each site's own.
  @Test func sitesTakenInTurnAreCountedApart() {
    var s = Scenario()
    s.lock("A", .mutex)
    s.lock("B", .mutex)
    s.acquire("A")
    s.acquire("B")
    s.release("B")
    s.release("A")
    let sites: [Int32] = [10, 11, 12, 13, 14, 15]
    for round in 0..<5 {
      for (i, site) in sites.enumerated() where round <= i {
        s.acquire("B")
        s.acquire("A", stack: site)
        s.release("A")
        s.release("B")
      }
    }
    #expect(s.findings.map(\.count) == [1, 2, 3, 4, 5, 5])
    #expect(s.findings.map(\.origin.stack.raw) == sites)
  }

  /// lockdep's `check_deadlock()` allows a second lock of a held class
  /// taken with a nest lock that is held (`mm_take_all_locks()`), and
  /// reports it without one: a repeat whose chain is the same (the chain
  /// key has no nest lock) but whose acquisition has a nest lock finds
  /// nothing, however often the one without was counted.
  @Test func aNestLockMakesTheSameChainAnotherAcquisition() {
    var s = Scenario()
    for k in ["N", "B", "C"] { s.lock(k, .mutex) }
    func take(_ s: inout Scenario, nest: String?) {
      s.acquire("N")
      s.acquire("B", inst: 1)
      s.acquire("C")
      s.acquire("B", nest: nest, inst: 2, stack: 7)
      s.release("B", inst: 2)
      s.release("C")
      s.release("B", inst: 1)
      s.release("N")
    }
    for _ in 0..<3 { take(&s, nest: nil) }
    #expect(s.kinds == [.recursiveLocking])
    #expect(s.findings.first?.count == 3)
    take(&s, nest: "N")
    #expect(s.findings.map(\.count) == [3])
  }

  /// An irq inversion (`check_irq_usage()`) taken again is counted each
  /// time, as a cycle is; a usage bit set meanwhile (the graph changed)
  /// does not stop the count.
  @Test func aRepeatedIrqInversionIsCountedEveryTime() throws {
    var s = Scenario()
    s.lock("S", .rawSpinlock)
    s.lock("U", .rawSpinlock)
    s.lock("X", .rawSpinlock)
    try s.useInHardirq("S")
    s.acquire("U")
    s.release("U")
    for round in 0..<4 {
      if round == 2 { try s.useInHardirq("X") }
      try s.event(.irqDisable)
      s.acquire("S", stack: 3)
      s.acquire("U", stack: 4)
      s.release("U")
      s.release("S")
      try s.event(.irqEnable)
    }
    #expect(s.kinds == [.irqLockInversion])
    #expect(s.findings.first?.count == 4)
  }
}
