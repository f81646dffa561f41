import LockGraph
import Testing
import WaitContext

/// Known engine bugs. These tests fail until the engine is fixed; they are
/// not marked as known issues on purpose.
@Suite struct RegressionTests {
  /// A subclass variant takes a class id of its own; a class declared after
  /// it must still get a working table entry (the variant slots were indexed
  /// by class id, sized by declared classes only, and trapped). The body runs
  /// in a child process, so a trap fails this test and not the whole run.
  @Test func classDeclaredAfterASubclassVariant() async {
    await #expect(processExitsWith: .success) {
      var s = Scenario()
      s.lock("A", .mutex)
      s.acquire("A", sub: 1)
      s.lock("B", .mutex)
      s.release("A")
      s.acquire("B")
      s.release("B")
      precondition(s.kinds.isEmpty, "unexpected findings \(s.kinds)")
    }
  }

  /// The same, in process, checking the classes themselves: the variant of
  /// A is `A/1`, and B stays a class of its own.
  @Test func variantAndLaterClassAreDistinct() async {
    await #expect(processExitsWith: .success) {
      var s = Scenario()
      s.lock("A", .spinlock)
      s.acquire("A", sub: 1)
      s.release("A")
      s.lock("B", .spinlock)
      s.lock("C", .spinlock)
      s.acquire("B")
      s.acquire("C")
      s.acquire("A", sub: 1)
      s.release("A")
      s.release("C")
      s.release("B")
      let classes = s.validator.classes
      precondition(classes[s.id("B")].key == "B" && classes[s.id("B")].subclass == 0)
      precondition(classes[s.id("C")].key == "C")
      precondition(s.kinds.isEmpty)
    }
  }

  /// Each distinct finding counts every occurrence (README: "A chain that
  /// produced a finding is not cached, so repeats are counted"): an AB-BA
  /// cycle run four times is one finding with count 4.
  @Test func repeatedCycleIsCountedEveryTime() {
    var s = Scenario()
    s.lock("A", .mutex)
    s.lock("B", .mutex)
    for _ in 0..<4 {
      s.acquire("A", on: "1")
      s.acquire("B", on: "1")
      s.release("B", on: "1")
      s.release("A", on: "1")
      s.acquire("B", on: "2")
      s.acquire("A", on: "2")
      s.release("A", on: "2")
      s.release("B", on: "2")
    }
    #expect(s.kinds == [.circularDependency])
    #expect(s.findings.first?.count == 4)
  }

  /// Four recursive acquisitions of one class, each released before the
  /// next: one recursive-locking finding with count 4.
  @Test func repeatedRecursionIsCountedEveryTime() {
    var s = Scenario()
    s.lock("A", .mutex)
    for _ in 0..<4 {
      s.acquire("A", inst: 0x10)
      s.acquire("A", inst: 0x20)
      s.release("A", inst: 0x20)
      s.release("A", inst: 0x10)
    }
    #expect(s.kinds == [.recursiveLocking])
    #expect(s.findings.first?.count == 4)
  }
}
