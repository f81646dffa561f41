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

  /// A release below held locks re-validates each lock above it
  /// (`reacquire_held_locks()`); past 128 of them the recursion check looks
  /// the class up in a set of the held classes rather than walking the
  /// stack. Both find a recursion among the re-pushed locks again (a
  /// repeat, counted), and nothing where there is none.
  @Test(arguments: [4, 200]) func aReleaseBelowManyLocksChecksRecursionAsOneBelowFew(fillers: Int) {
    var s = Scenario()
    s.lock("base", .mutex)
    s.lock("A", .mutex)
    for i in 0..<fillers { s.lock("f\(i)", .mutex) }
    s.acquire("base")
    s.acquire("A", inst: 1)
    for i in 0..<fillers { s.acquire("f\(i)") }
    s.acquire("A", inst: 2)
    #expect(s.kinds == [.recursiveLocking])
    s.release("base")
    #expect(s.kinds == [.recursiveLocking])
    #expect(s.findings.first?.count == 2)
    var clean = Scenario()
    clean.lock("base", .mutex)
    for i in 0..<fillers { clean.lock("f\(i)", .mutex) }
    clean.acquire("base")
    for i in 0..<fillers { clean.acquire("f\(i)") }
    clean.release("base")
    for i in (0..<fillers).reversed() { clean.release("f\(i)") }
    #expect(clean.kinds.isEmpty)
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

  /// The kernel's `validate_chain()` skips `check_prevs_add()` for an
  /// acquisition a nest lock serializes (`check_deadlock()` returns 2) and
  /// leaves its `read` as it was (since 2020 it no longer makes it a
  /// recursive read): a lock taken under it depends on it exclusively
  /// (-(EN)->), so D -(ER)-> A -(EN)-> C -(EN)-> D is a strong cycle.
  @Test(arguments: [false, true])
  func aLockTakenUnderANestSerializedLockDependsOnItAsTaken(chainSeenBefore: Bool) {
    var s = Scenario()
    for (key, kind) in [("N", LockKind.spinlock), ("A", .rwlock), ("B", .spinlock)] {
      s.lock(key, kind)
    }
    s.lock("C", .spinlock)
    s.lock("D", .spinlock)
    s.acquire("D", on: "1")
    s.acquire("A", on: "1", read: .recursive)
    s.release("A", on: "1")
    s.release("D", on: "1")
    for round in 0..<(chainSeenBefore ? 2 : 1) {
      s.acquire("N", on: "2")
      s.acquire("A", on: "2", inst: 1)
      s.acquire("B", on: "2")
      s.acquire("A", on: "2", nest: "N", inst: 2)
      if round == 1 || !chainSeenBefore { s.acquire("C", on: "2") }
      if round == 1 || !chainSeenBefore { s.release("C", on: "2") }
      s.release("A", on: "2", inst: 2)
      s.release("B", on: "2")
      s.release("A", on: "2", inst: 1)
      s.release("N", on: "2")
    }
    #expect(s.kinds.isEmpty)
    let edge = s.validator.graph.edges.first { $0.from == s.id("A") && $0.to == s.id("C") }
    #expect(edge?.kinds == .exclusiveToNonRecursive)
    s.acquire("C", on: "3")
    s.acquire("D", on: "3")
    #expect(s.kinds == [.circularDependency])
  }

  /// The nest-serialized entry stays an exclusive hold: a recursive read
  /// of its class without a nest lock is recursive locking against it
  /// (`check_deadlock()` skips only held reads).
  @Test func aRecursiveReadAfterANestSerializedWriteIsRecursive() {
    var s = Scenario()
    s.lock("N", .spinlock)
    s.lock("A", .rwlock)
    s.lock("B", .spinlock)
    s.acquire("N")
    s.acquire("A", read: .shared, inst: 1)
    s.acquire("B")
    s.acquire("A", nest: "N", inst: 2)
    #expect(s.kinds.isEmpty)
    s.acquire("A", read: .recursive, inst: 3)
    #expect(s.kinds == [.recursiveLocking])
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

  /// A release below re-acquires the locks above it through all of
  /// `__lock_acquire()` (`reacquire_held_locks()`), the nest-lock merge
  /// too: a lock taken with a nest lock that now sits right above a lock
  /// of its class becomes a reference of that entry, which keeps its own
  /// flags. Here the merged entry is X taken for writing, so a lock taken
  /// after it depends on X exclusively (EN), and a recursive read of X
  /// under Z on another thread closes a cycle; before, the re-pushed read
  /// entry stayed on top and the dependency was SN, and the cycle was
  /// missed (found by a differential test against a model of lockdep.c).
  @Test func aReacquiredLockMergesIntoTheEntryOfItsClass() {
    var s = Scenario()
    s.lock("N", .spinlock)
    s.lock("X", .rwlock)
    s.lock("Y", .spinlock)
    s.lock("Z", .spinlock)
    s.acquire("N")
    s.acquire("X", inst: 1)
    s.acquire("Y")
    s.acquire("X", read: .shared, nest: "N", inst: 2)
    s.release("Y")
    let held = s.validator.heldLocks(of: s.thread("1"))
    #expect(held.map(\.lockClass) == [s.id("N"), s.id("X")])
    #expect(held.last?.references == 2)
    #expect(held.last?.read == .exclusive)
    s.acquire("Z")
    for key in ["Z", "X", "X", "N"] { s.release(key) }
    #expect(s.kinds.isEmpty, "\(s.kinds)")
    s.acquire("Z", on: "2")
    s.acquire("X", on: "2", read: .recursive)
    #expect(s.kinds == [.circularDependency])
  }

  /// And its nest-lock check: a lock taken under a nest lock whose nest
  /// lock is the one released is re-acquired without it, which lockdep
  /// reports as it would an acquisition (`print_lock_nested_lock_not_held()`).
  @Test func aReacquiredLockWhoseNestLockWentIsReported() {
    var s = Scenario()
    s.lock("S", .spinlock)
    s.lock("M", .spinlock)
    s.acquire("S")
    s.acquire("M", nest: "S")
    #expect(s.kinds.isEmpty)
    s.release("S")
    #expect(s.kinds == [.nestedLockNotTaken])
  }

  /// A merged entry matches a release of another instance only when it is
  /// of the class's subclass 0 (`match_held_lock()` compares the lock's
  /// `class_cache[0]`): of another subclass, only its own instance.
  @Test func aMergedEntryOfASubclassMatchesItsOwnInstanceOnly() {
    var s = Scenario()
    s.lock("N", .spinlock)
    s.lock("A", .spinlock)
    s.acquire("N")
    s.acquire("A", sub: 1, inst: 1)
    s.acquire("A", sub: 1, nest: "N", inst: 2)
    s.release("A", inst: 2)
    #expect(s.kinds == [.badUnlockBalance])
    s.release("A", inst: 1)
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

  /// A lock taken in a hard interrupt handler while the interrupted thread
  /// holds it deadlocks (`check_deadlock()` looks at every held lock of the
  /// task). On PREEMPT_RT a forced-threaded handler is an irq thread of
  /// its own, which holds nothing of the interrupted thread's: it waits
  /// for the lock, no recursion.
  @Test func aForcedThreadedHandlerOnRTHoldsNothingOfTheInterruptedThread() throws {
    for rt in [false, true] {
      var s = Scenario(CheckConfiguration(preemptRT: rt))
      s.lock("spin", .spinlock)
      s.acquire("spin")
      try s.event(.hardirqEnter, threaded: true)
      s.acquire("spin")
      s.release("spin")
      try s.event(.hardirqExit)
      s.release("spin")
      #expect(s.kinds.contains(.recursiveLocking) == !rt, "rt \(rt): \(s.kinds)")
      if rt { #expect(s.kinds.isEmpty, "\(s.kinds)") }
    }
  }

  /// A nest lock the interrupted thread holds is not the irq thread's
  /// (PREEMPT_RT, a forced-threaded handler): `__lock_acquire()` finds it
  /// not held. On the interrupted thread (without PREEMPT_RT) it is.
  @Test func aForcedThreadedHandlerOnRTDoesNotHoldTheInterruptedThreadsNestLock() throws {
    for rt in [false, true] {
      var s = Scenario(CheckConfiguration(preemptRT: rt))
      s.lock("n", .mutex)
      s.lock("l", .spinlock)
      s.acquire("n")
      try s.event(.hardirqEnter, threaded: true)
      s.acquire("l", nest: "n", inst: 0x10)
      #expect(s.kinds == (rt ? [.nestedLockNotTaken] : []), "rt \(rt): \(s.kinds)")
    }
  }
}
