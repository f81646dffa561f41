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

  /// lockdep's nest-lock merge (`__lock_acquire()`, `hlock->references`):
  /// locks of the newest held lock's class taken with a nest lock add
  /// references to that one entry, so a thread may hold thousands of
  /// them (`mm_take_all_locks()`; lockdep's depth limit is 48) in two
  /// entries; any instance's release takes a reference back
  /// (`match_held_lock()`), in any order, and the entry goes with the
  /// last. A release past them is a bad unlock.
  @Test(arguments: [false, true])
  func locksTakenUnderANestLockShareOneEntry(releaseInOrderTaken: Bool) {
    var s = Scenario()
    s.lock("outer", .mutex)
    s.lock("A", .spinlock)
    s.acquire("outer")
    let instances = (1...2000).map { UInt64($0) * 64 }
    for inst in instances { s.acquire("A", nest: "outer", inst: inst) }
    let held = s.validator.heldLocks(of: s.thread("1"))
    #expect(held.map(\.lockClass) == [s.id("outer"), s.id("A")])
    #expect(held.last?.references == 2000)
    #expect(held.last?.instance == instances[0])
    for inst in releaseInOrderTaken ? instances : instances.reversed() {
      s.release("A", inst: inst)
    }
    #expect(s.validator.heldLocks(of: s.thread("1")).map(\.lockClass) == [s.id("outer")])
    #expect(s.kinds.isEmpty, "\(s.kinds)")
    s.release("A", inst: instances[0])
    #expect(s.kinds == [.badUnlockBalance])
  }

  /// The merge is of the newest held lock only, and only with a nest lock:
  /// a lock of a class held lower down, or taken without one, is its own
  /// entry, validated as ever.
  @Test func onlyTheNewestEntryTakenWithANestLockMerges() {
    var s = Scenario()
    s.lock("outer", .mutex)
    s.lock("A", .spinlock)
    s.lock("B", .spinlock)
    s.acquire("outer")
    s.acquire("A", nest: "outer", inst: 1)
    s.acquire("B", inst: 3)
    s.acquire("A", nest: "outer", inst: 2)
    #expect(s.validator.heldLocks(of: s.thread("1")).count == 4)
    #expect(s.validator.heldLocks(of: s.thread("1")).allSatisfy { $0.references == 0 })
    var t = Scenario()
    t.lock("A", .spinlock)
    t.acquire("A", inst: 1)
    t.acquire("A", inst: 2)
    #expect(t.kinds == [.recursiveLocking])
  }

  /// A merged entry freed with its first instance (whose memory lockdep's
  /// free check looks at) is one finding: the releases of the other locks
  /// it stood for are not bad unlocks after it.
  @Test func theOtherLocksOfAFreedMergedEntryReleaseQuietly() {
    var s = Scenario()
    s.lock("outer", .mutex)
    s.lock("A", .rawSpinlock)
    s.acquire("outer")
    for inst: UInt64 in [0x10, 0x20, 0x30] { s.acquire("A", nest: "outer", inst: inst) }
    s.release("A", inst: 0x10)
    s.free(0x10, 8)
    s.release("A", inst: 0x20)
    s.release("A", inst: 0x30)
    s.release("outer")
    #expect(s.kinds == [.heldLockFreed], "\(s.kinds)")
    s.release("A", inst: 0x30)
    #expect(s.kinds == [.heldLockFreed, .badUnlockBalance])
  }

  /// A lock taken with a nest lock in an interrupt merges only into a
  /// newest entry of its own context: one taken by the interrupted task
  /// stays the task's, and the interrupt's lock its own (released there).
  @Test func aNestLockMergeStaysInItsContext() throws {
    var s = Scenario()
    s.lock("outer", .mutex)
    s.lock("A", .mutex)
    s.acquire("outer")
    s.acquire("A", nest: "outer", inst: 0x10)
    try s.event(.softirqEnter)
    s.acquire("A", nest: "outer", inst: 0x20)
    s.release("A", inst: 0x20)
    try s.event(.softirqExit)
    s.release("A", inst: 0x10)
    s.release("outer")
    #expect(!s.kinds.contains(.badUnlockBalance), "\(s.kinds)")
    #expect(s.validator.heldLocks(of: s.thread("1")).isEmpty)
  }

  @Test func nestLockNotHeld() {
    var s = Scenario()
    s.lock("outer", .mutex)
    s.lock("A", .spinlock)
    s.acquire("A", nest: "outer", inst: 1)
    #expect(s.kinds == [.nestedLockNotTaken])
  }
}
