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

  /// Freeing a structure that holds several held locks is one finding per
  /// holder, naming its oldest lock in the memory: lockdep's
  /// `debug_check_no_locks_freed()` walks `held_locks` from the bottom and
  /// reports the first lock in the range (`print_freed_lock_bug()`, then
  /// `break`). A thread holding locks elsewhere too is still one finding.
  @Test func freeingSeveralHeldLocksIsOneFindingPerHolder() {
    var s = Scenario()
    s.lock("Outer", .mutex)
    s.lock("A", .spinlock)
    s.lock("B", .spinlock)
    s.acquire("Outer", on: "1", inst: 0x9000)
    s.acquire("A", on: "1", inst: 0x1008)
    s.acquire("B", on: "1", inst: 0x1010)
    s.lock("C", .spinlock)
    s.acquire("C", on: "2", inst: 0x1018)
    s.acquire("A", on: "2", inst: 0x1000)
    s.free(0x1000, 64, on: "1")
    #expect(s.kinds == [.heldLockFreed, .heldLockFreed])
    let named = s.findings.map { ($0.lock?.lockClass, $0.lock?.instance) }
    #expect(named.contains { $0 == (s.id("A"), 0x1008) })
    #expect(named.contains { $0 == (s.id("C"), 0x1018) })
  }

  /// lockdep's `not_in_range()`: a lock lies in a freed range when the
  /// range holds its first byte (here its only one: a trace gives no lock
  /// size), so a range of length 0 holds no lock, and one ending at the
  /// top of the address space holds the last byte.
  @Test func aFreedRangeHoldsTheBytesItCovers() {
    var s = Scenario()
    s.lock("A", .spinlock)
    s.acquire("A", on: "1", inst: 0x1000)
    s.free(0x1000, 0, on: "1")
    s.free(0x0FFF, 1, on: "1")
    s.free(0x1001, 0x10, on: "2")
    #expect(s.kinds.isEmpty)
    s.free(0x1000, 1, on: "2")
    #expect(s.kinds == [.heldLockFreed])
    s.lock("B", .spinlock)
    s.acquire("B", on: "1", inst: UInt64.max)
    s.free(UInt64.max, 0, on: "2")
    #expect(s.kinds == [.heldLockFreed])
    s.free(UInt64.max - 1, 2, on: "2")
    #expect(s.kinds == [.heldLockFreed, .heldLockFreed])
  }

  /// A range longer than the room to the top of the address space ends
  /// there: it does not wrap round to address 0 (a lock at 0x10 is not in
  /// 0xffff_ffff_ffff_fff0 + 0x100; lockdep's `not_in_range()` compares
  /// ends, and memory does not wrap).
  @Test func aFreedRangeDoesNotWrapPastTheTop() {
    var s = Scenario()
    s.lock("A", .spinlock)
    s.acquire("A", on: "1", inst: 0x10)
    s.free(0xFFFF_FFFF_FFFF_FFF0, 0x100, on: "1")
    #expect(s.kinds.isEmpty)
    s.lock("B", .spinlock)
    s.acquire("B", on: "1", inst: 0xFFFF_FFFF_FFFF_FFF8)
    s.free(0xFFFF_FFFF_FFFF_FFF0, 0x100, on: "1")
    #expect(s.kinds == [.heldLockFreed])
    guard case .heldLockFreed(let from, let to, _, _) = s.findings[0].detail else { return }
    #expect(from == 0xFFFF_FFFF_FFFF_FFF0 && to == UInt64.max)
  }

  /// A `free` checks only the threads its pages list (`HeldAddressIndex`),
  /// and drops those it finds holding none: a thread dropped must be
  /// listed again after its next acquisition, or a lock it then holds is
  /// freed unseen. Through `process` one event at a
  /// time and in a batch (the acquisitions then take the fast path), among
  /// many threads that took and dropped the lock before.
  @Test(arguments: [false, true])
  func aThreadHoldingAgainAfterAFreeIsChecked(batch: Bool) throws {
    var validator = LockValidator()
    let a = validator.declareClass(
      key: "A", kind: .spinlock, waits: try ClassWaitTypes(kind: .spinlock))
    let threads = (0..<200).map { validator.declareThread(token: "\($0)") }
    var events: [LockEvent] = []
    for t in threads {
      events.append(LockEvent(.acquire, thread: t, lockClass: a, address: 0x1008))
      events.append(LockEvent(.release, thread: t, lockClass: a, address: 0x1008))
    }
    // Every thread holds nothing here: a free drops them all.
    events.append(LockEvent(.free, thread: threads[0], address: 0x2000, length: 64))
    events.append(LockEvent(.acquire, thread: threads[150], lockClass: a, address: 0x1008))
    events.append(LockEvent(.free, thread: threads[0], address: 0x1000, length: 64))
    if batch {
      let refused = events.withUnsafeBufferPointer { validator.process($0) }
      #expect(refused == nil)
    } else {
      for event in events { try validator.process(event) }
    }
    let findings = validator.findings.findings
    #expect(findings.map(\.kind) == [.heldLockFreed])
    guard case .heldLockFreed(_, _, let holder, _) = findings.first?.detail else { return }
    #expect(holder == threads[150])
  }

  /// A lock re-validated by a release below it has its usage marked as
  /// `__lock_acquire()` marks it from `reacquire_held_locks()`: with the
  /// interrupt state saved at its acquisition and bottom halves as they
  /// are now. `B` (used in a softirq) taken with interrupts on and bottom
  /// halves off; bottom halves back on with interrupts off, which marks
  /// nothing (`lockdep_softirqs_on()` marks only with interrupts on);
  /// then `X` below it released: `B` is softirq-enabled there, an
  /// inconsistent state lockdep reports at the release (a differential
  /// test against a model of lockdep found it missed). Read acquisitions
  /// alike (`SOFTIRQ-ON-R`).
  @Test(arguments: [false, true])
  func aLockRevalidatedByAReleaseIsMarkedWithBottomHalvesAsTheyAreNow(read: Bool) throws {
    var s = Scenario()
    s.lock("X", .spinlock)
    s.lock("B", .rwlock)
    try s.event(.softirqEnter, on: "2")
    s.acquire("B", on: "2")
    s.release("B", on: "2")
    try s.event(.softirqExit, on: "2")
    s.acquire("X")
    try s.event(.bhDisable)
    s.acquire("B", read: read ? .shared : .exclusive)
    try s.event(.irqDisable)
    try s.event(.bhEnable)
    #expect(s.kinds.isEmpty)
    s.release("X")
    #expect(s.kinds == [.inconsistentLockState])
    guard case .inconsistentLockState(let previous, let new, _, _)? = s.findings.first?.detail
    else { return }
    #expect(previous == .usedInSoftirq)
    #expect(new == (read ? .enabledSoftirqRead : .enabledSoftirq))
    #expect(s.findings.first?.origin.event == 9)
  }

  /// A free on another thread of memory where a stopped thread (past the
  /// held-lock limit) held a lock re-validates nothing there: the stopped
  /// thread's held list is as it was at the stop (its releases since were
  /// counted) and it is not validated until it holds nothing; the
  /// re-validation's usage marking reported a false inconsistent state
  /// (found by a review).
  @Test func aFreeOfAStoppedThreadsLockMarksNothing() throws {
    var s = Scenario()
    s.lock("X", .spinlock)
    s.lock("B", .spinlock)
    let n = LockValidator.maxHeldDepth + 3
    for i in 0..<n { s.lock("A\(i)", .spinlock) }
    try s.event(.softirqEnter, on: "2")
    s.acquire("B", on: "2")
    s.release("B", on: "2")
    try s.event(.softirqExit, on: "2")
    s.acquire("X", inst: 0x1000)
    try s.event(.bhDisable)
    s.acquire("B", inst: 0x2000)
    try s.event(.irqDisable)
    try s.event(.bhEnable)
    for i in 0..<n { s.acquire("A\(i)", inst: 0x10000 + UInt64(i) * 16) }
    #expect(s.kinds == [.limitExceeded])
    for i in (0..<n).reversed() { s.release("A\(i)", inst: 0x10000 + UInt64(i) * 16) }
    s.release("B", inst: 0x2000)
    s.release("X", inst: 0x1000)
    s.free(0x1000, 8, on: "2")  // X's memory, on thread 2
    #expect(!s.kinds.contains(.inconsistentLockState))
  }

  /// A free on another thread that drops a wait-override a thread holds
  /// re-validates the locks above it (`reacquire`): what that finds is
  /// found at the free, the event that uncovered it, as for a free on the
  /// holder's own thread, not at an acquisition before it that was valid.
  @Test(arguments: ["1", "2"])
  func whatAFreeUncoversIsFoundAtTheFree(freedOn t: String) {
    var s = Scenario()
    s.lock("R", .rawSpinlock)
    s.lock("O", .waitOverride, inner: .sleep)
    s.lock("S", .spinlock)
    s.acquire("R")
    s.acquire("O", try: true, inst: 0x1000)
    s.acquire("S")
    #expect(s.kinds.isEmpty)
    let freeStack = StackID(7)
    try! s.validator.process(
      LockEvent(
        .free, thread: s.thread(t), address: 0x1000, length: 8,
        origin: Origin(stack: freeStack, ip: 0x4242)))
    #expect(s.kinds == [.heldLockFreed, .invalidWaitContext])
    #expect(s.findings.map(\.origin.event) == [3, 3])
    #expect(s.findings.last?.thread == s.thread("1"))
    // The freeing thread's stack and call site are the holder's finding's
    // only when it is the same thread.
    let uncovered = s.findings.last?.origin
    #expect(uncovered?.stack == (t == "1" ? freeStack : .none))
    #expect(uncovered?.ip == (t == "1" ? 0x4242 : 0))
  }

  /// A held wait-override freed while its holder is in an interrupt
  /// handler (on its own thread or another): the task's locks above it
  /// are not re-validated in the handler's context, where none of them
  /// was taken (a differential test against a model of lockdep found an
  /// invalid wait context `context-{2:2}` with no locks held; the free
  /// asked which context the lock was of after removing it). Without the
  /// handler the same free uncovers nothing either: the override allowed
  /// no more than the task context does.
  @Test(arguments: ["1", "2"])
  func aFreeInAHandlerRevalidatesNothingInItsContext(freedOn t: String) throws {
    var s = Scenario()
    s.lock("O", .waitOverride, inner: .config)
    s.lock("L", .rwlock)
    s.acquire("O", try: true, inst: 0x8010)
    s.acquire("L", inst: 0x3000)
    try s.event(.hardirqEnter)
    s.free(0x8000, 32, on: t)
    try s.event(.hardirqExit)
    s.release("L", inst: 0x3000)
    #expect(s.kinds == [.heldLockFreed])
  }

  /// The locks above a lock freed in a handler (of the interrupted
  /// context) are put back with chain keys made without it: the next
  /// chain of their thread is cached under its own key, not under that of
  /// a chain still holding the freed lock, which another thread's real
  /// chain would then hit and add no dependency (C after A, through a
  /// trylock of B), and the ABBA with a third thread was missed (a review
  /// of the change that stopped re-validating them in the handler found
  /// it). As without the handler.
  @Test(arguments: [false, true])
  func aFreeInAHandlerLeavesNoStaleChainKey(inHandler: Bool) throws {
    var s = Scenario()
    s.lock("A", .spinlock)
    s.lock("B", .spinlock)
    s.lock("C", .spinlock)
    s.acquire("A", inst: 0x100)
    s.acquire("B", try: true, inst: 0x200)
    if inHandler { try s.event(.hardirqEnter) }
    s.free(0x100, 8)
    if inHandler { try s.event(.hardirqExit) }
    s.acquire("C", inst: 0x300)
    s.release("C", inst: 0x300)
    s.release("B", inst: 0x200)
    s.acquire("A", on: "2", inst: 0x1100)
    s.acquire("B", on: "2", try: true, inst: 0x1200)
    s.acquire("C", on: "2", inst: 0x1300)
    s.release("C", on: "2", inst: 0x1300)
    s.release("B", on: "2", inst: 0x1200)
    s.release("A", on: "2", inst: 0x1100)
    s.acquire("C", on: "3", inst: 0x2300)
    s.acquire("A", on: "3", inst: 0x2100)
    s.release("A", on: "3", inst: 0x2100)
    s.release("C", on: "3", inst: 0x2300)
    #expect(Set(s.kinds) == [.heldLockFreed, .circularDependency])
  }

  /// A lock put back after a lock below it was freed in a handler keeps
  /// what makes its holder atomic: a spin lock above a freed override map
  /// still makes a later sleep a `sleep-in-atomic` (`putBack` computes
  /// `atomicSoFar` from the locks below it and the lock's own class, not
  /// from the freed lock's), and a freed spin lock below a map makes
  /// nothing atomic any more (the sleep check's slow path counts the held
  /// locks again).
  @Test(arguments: [true, false])
  func aLockPutBackKeepsWhatMakesItsHolderAtomic(spinAbove: Bool) throws {
    var s = Scenario()
    s.lock("O", .waitOverride, inner: .config)
    s.lock("S", .spinlock)
    s.acquire(spinAbove ? "O" : "S", inst: 0x8010)
    s.acquire(spinAbove ? "S" : "O", inst: 0x3000)
    try s.event(.hardirqEnter)
    s.free(0x8000, 32)
    try s.event(.hardirqExit)
    try s.event(.mightSleep)
    let expected: [FindingKind] = spinAbove ? [.heldLockFreed, .sleepInAtomic] : [.heldLockFreed]
    #expect(s.kinds == expected)
  }

  /// Locks freed while held are remembered, so that their release is no
  /// finding again, as many as may be held (`maxHeldDepth`); one more
  /// forgets the oldest, and says so (`limit-exceeded`): its release is
  /// then a bad unlock balance. Before 2026-12-06 the 17th forgot the
  /// oldest without a word (a differential test found the release's
  /// verdict changing with the number of other locks freed).
  @Test(arguments: [false, true])
  func lockFreedWhileHeldAreRememberedAsManyAsMayBeHeld(onePastTheLimit: Bool) {
    var s = Scenario()
    s.lock("A", .spinlock)
    s.lock("K", .spinlock)
    s.acquire("A", inst: 0x10)
    s.free(0x10, 8)
    // Eight at a time (subclasses 0 to 7: no recursion), each eight freed.
    let others = ThreadValidator.maxHeldDepth - (onePastTheLimit ? 0 : 1)
    for round in 0..<(others / 8) {
      let base = UInt64(0x10_0000 + round * 0x100)
      for sub in 0..<8 { s.acquire("K", sub: UInt8(sub), inst: base + UInt64(sub) * 8) }
      s.free(base, 64)
    }
    for sub in 0..<(others % 8) {
      s.acquire("K", sub: UInt8(sub), inst: 0x20_0000 + UInt64(sub) * 8)
      s.free(0x20_0000 + UInt64(sub) * 8, 8)
    }
    s.release("A", inst: 0x10)
    let kinds = Set(s.kinds)
    #expect(kinds.contains(.limitExceeded) == onePastTheLimit)
    #expect(kinds.contains(.badUnlockBalance) == onePastTheLimit)
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
    // Released after the handler (the kernel keeps it held and finds it
    // at its unlock): no bad unlock balance on top of the report. A
    // second release is one.
    s.release("A")
    #expect(s.kinds == [.locksHeldAtExit])
    s.release("A")
    #expect(s.kinds == [.locksHeldAtExit, .badUnlockBalance])
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

  /// A thread stopped by the held-lock limit is validated again once it
  /// holds nothing, outside any interrupt context, with nothing disabled
  /// (spec/reports.md: validation goes on where it can; a pool's thread
  /// that once held a large batch of locks is not left unchecked for the
  /// rest of the process). Not before: a stop inside `irq-disable` waits
  /// for the matching `irq-enable`.
  @Test(arguments: [false, true])
  func aThreadStoppedByTheLimitIsValidatedAgainOnceItHoldsNothing(irqsOff: Bool) throws {
    var s = Scenario()
    let taken = LockValidator.maxHeldDepth + 3
    for i in 0..<taken { s.lock("A\(i)", .spinlock) }
    s.lock("B", .spinlock)
    if irqsOff { try s.event(.irqDisable) }
    for i in 0..<taken {
      s.acquire("A\(i)")
      // Past the limit, contexts still nest (counted, not validated).
      if i == taken - 1 {
        try s.event(.hardirqEnter)
        s.acquire("B")
        s.release("B")
        try s.event(.hardirqExit)
      }
    }
    #expect(s.kinds == [.limitExceeded])
    for i in (0..<taken).reversed() { s.release("A\(i)") }
    func recursion(_ s: inout Scenario) -> Int {
      s.acquire("B")
      s.acquire("B")
      s.release("B")
      s.release("B")
      return s.kinds.filter { $0 == .recursiveLocking }.count
    }
    if irqsOff {
      // Interrupts are still off: still stopped.
      #expect(recursion(&s) == 0)
      try s.event(.irqEnable)
    }
    #expect(recursion(&s) == 1)
  }

  /// A held entry that stands for several acquisitions (a nest lock's
  /// class taken again under it) counts each: their releases while the
  /// thread is stopped do not restart it under the nest lock (whose
  /// release would then be a bad unlock balance).
  @Test func aStoppedThreadCountsEachReferenceOfAMergedEntry() {
    var s = Scenario()
    s.lock("N", .mutex)
    s.lock("M", .mutex)
    let others = LockValidator.maxHeldDepth - 1
    for i in 0...others { s.lock("A\(i)", .mutex) }
    s.acquire("N")
    for _ in 0..<3 { s.acquire("M", nest: "N") }
    for i in 0...others { s.acquire("A\(i)") }
    #expect(s.kinds == [.limitExceeded])
    for i in (0...others).reversed() { s.release("A\(i)") }
    for _ in 0..<3 { s.release("M") }
    s.release("N")
    #expect(s.kinds == [.limitExceeded])
    // Validated again after the last release.
    s.acquire("N")
    s.acquire("N")
    #expect(s.kinds.contains(.recursiveLocking))
  }

  /// A class declared past the class table's capacity (lockdep's
  /// MAX_LOCKDEP_KEYS) is a `limit-exceeded` finding where it is taken,
  /// its events are left out (its release is no imbalance), and
  /// validation goes on for the other classes (spec/reports.md), one
  /// event at a time and in a batch alike.
  @Test(arguments: [false, true])
  func aClassPastTheTableIsALimitFindingAndValidationGoesOn(batch: Bool) throws {
    var v = LockValidator()
    let waits = try ClassWaitTypes(kind: .mutex)
    let a = v.declareClass(key: "A", kind: .mutex, waits: waits)
    let b = v.declareClass(key: "B", kind: .mutex, waits: waits)
    for i in 2..<ClassRegistry.capacity {
      _ = v.declareClass(key: "c\(i)", kind: .mutex, waits: waits)
    }
    let over = v.declareClass(key: "over", kind: .mutex, waits: waits)
    #expect(over == .none)
    let t = v.declareThread(token: "1")
    let events = [
      LockEvent(.acquire, thread: t, lockClass: over),
      LockEvent(.acquire, thread: t, lockClass: a),
      LockEvent(.release, thread: t, lockClass: over),
      LockEvent(.acquire, thread: t, lockClass: b),
      LockEvent(.release, thread: t, lockClass: b),
      LockEvent(.release, thread: t, lockClass: a),
      LockEvent(.acquire, thread: t, lockClass: b),
      LockEvent(.acquire, thread: t, lockClass: a),
      LockEvent(.release, thread: t, lockClass: a),
      LockEvent(.release, thread: t, lockClass: b),
      LockEvent(.mightLock, thread: t, lockClass: over),
    ]
    if batch {
      #expect(events.withUnsafeBufferPointer { v.process($0) } == nil)
    } else {
      for event in events { try v.process(event) }
    }
    let kinds = v.findings.findings.map(\.kind)
    #expect(kinds == [.limitExceeded, .circularDependency], "\(kinds)")
    // The acquisition and the might-lock: one finding, from the same place.
    #expect(v.findings.findings.first?.count == 2)
    #expect(v.heldLocks(of: t).isEmpty)
  }

  /// A subclass variant past the class table's capacity, of a class the
  /// table holds (131,072 classes fill it with their eight variants), is
  /// a `limit-exceeded` finding and not pushed; its release, which names
  /// the class, was then a false `bad-unlock-balance`.
  @Test func theReleaseOfAVariantPastTheTableIsNoImbalance() throws {
    var v = LockValidator()
    let waits = try ClassWaitTypes(kind: .mutex)
    let perClass = ClassRegistry.subclasses
    var ids: [ClassID] = []
    for i in 0..<(ClassRegistry.capacity / perClass + 1) {
      ids.append(v.declareClass(key: "c\(i)", kind: .mutex, waits: waits))
    }
    let t = v.declareThread(token: "1")
    for id in ids {
      for sub in 0..<perClass {
        try v.process(LockEvent(.acquire, thread: t, lockClass: id, subclass: UInt8(sub)))
        try v.process(LockEvent(.release, thread: t, lockClass: id))
      }
    }
    let kinds = Set(v.findings.findings.map(\.kind))
    #expect(kinds == [.limitExceeded], "\(kinds)")
    #expect(v.heldLocks(of: t).isEmpty)
  }
}
