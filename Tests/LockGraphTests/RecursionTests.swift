import LockGraph
import Testing
import WaitContext

@Suite struct RecursionTests {
  @Test func sameClassTwiceIsRecursive() {
    var s = Scenario()
    s.lock("A", .spinlock)
    s.acquire("A", inst: 1)
    s.acquire("A", inst: 2)
    #expect(s.kinds == [.recursiveLocking])
  }

  @Test func subclassesAreSeparateClasses() {
    var s = Scenario()
    s.lock("A", .spinlock)
    s.acquire("A", inst: 1)
    s.acquire("A", sub: 1, inst: 2)
    #expect(s.kinds.isEmpty)
  }

  @Test func recursiveReadOfAHeldReadIsAllowed() {
    var s = Scenario()
    s.lock("A", .rwlock)
    s.acquire("A", read: .shared)
    s.acquire("A", read: .recursive)
    #expect(s.kinds.isEmpty)
    var t = Scenario()
    t.lock("A", .rwsem)
    t.acquire("A", read: .shared)
    t.acquire("A", read: .shared)
    #expect(t.kinds == [.recursiveLocking], "a non-recursive read deadlocks behind a writer")
  }

  @Test func nestLockSerializesSameClassNesting() {
    var s = Scenario()
    s.lock("outer", .mutex)
    s.lock("A", .spinlock)
    s.acquire("outer")
    s.acquire("A", inst: 1, )
    s.acquire("A", nest: "outer", inst: 2)
    #expect(s.kinds.isEmpty)
  }

  @Test func nestLockNotHeld() {
    var s = Scenario()
    s.lock("outer", .mutex)
    s.lock("A", .spinlock)
    s.acquire("A", nest: "outer", inst: 1)
    #expect(s.kinds == [.nestedLockNotTaken])
  }
}
