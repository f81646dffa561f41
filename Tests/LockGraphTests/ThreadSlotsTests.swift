import Testing
import WaitContext

@testable import LockGraph

/// A trace's validator keeps one thread validator per thread alive, not
/// per thread ever seen (`ThreadSlots`): an exited thread's slot is taken
/// by the next thread, as Linux reuses an exited task's memory. Each test
/// runs one event at a time and as one batch (the trace readers' way).
@Suite struct ThreadSlotsTests {
  /// A validator with spinlock classes A and B.
  static func validator() throws -> (LockValidator, ClassID, ClassID) {
    var v = LockValidator()
    let waits = try ClassWaitTypes(kind: .spinlock)
    let a = v.declareClass(key: "A", kind: .spinlock, waits: waits)
    let b = v.declareClass(key: "B", kind: .spinlock, waits: waits)
    return (v, a, b)
  }

  static func run(_ events: [LockEvent], on v: inout LockValidator, batch: Bool) throws {
    if batch {
      let refused = events.withUnsafeBufferPointer { v.process($0) }
      #expect(refused == nil)
    } else {
      for event in events { try v.process(event) }
    }
  }

  /// A thread per task: each declared, nesting A then B, and exiting. One
  /// validator serves them all, and the counters and the deepest stack of
  /// the exited threads are kept (the first thread reached depth 2 first).
  @Test(arguments: [false, true])
  func exitedThreadsGiveTheirSlotsBack(batch: Bool) throws {
    var (v, a, b) = try Self.validator()
    var first: ThreadID? = nil
    for i in 0..<1000 {
      let t = v.declareThread(token: "t\(i)")
      if first == nil { first = t }
      try Self.run(
        [
          LockEvent(.acquire, thread: t, lockClass: a),
          LockEvent(.acquire, thread: t, lockClass: b),
          LockEvent(.release, thread: t, lockClass: b),
          LockEvent(.release, thread: t, lockClass: a),
          LockEvent(.exit, thread: t),
        ], on: &v, batch: batch)
    }
    #expect(v.threads.count == 1)
    #expect(v.statistics.acquisitions == 2000)
    #expect(v.deepestHeldStack?.depth == 2)
    #expect(v.deepestHeldStack?.thread == first)
    #expect(v.findings.findings.isEmpty)
    #expect(v.eventCount == 5000)
  }

  /// A declared thread takes a slot (its validator, about 1 KB) at its
  /// first event, not at its declaration: a trace's `thread` lines name
  /// threads that may never take a lock (a million of them took 1.1 GB,
  /// and ten million ended the process on a failed allocation).
  @Test(arguments: [false, true])
  func aDeclaredThreadTakesASlotAtItsFirstEvent(batch: Bool) throws {
    var (v, a, _) = try Self.validator()
    let declared = (0..<1000).map { v.declareThread(token: "t\($0)", name: "worker") }
    // Read into plain values: a failed expectation that reflects the
    // validator (it holds noncopyable state) would end the test process.
    let slotsMade = v.threads.count
    let hasValidator = v.validator(of: declared[7]) != nil
    #expect(slotsMade == 0)
    #expect(!hasValidator)
    try Self.run(
      [
        LockEvent(.acquire, thread: declared[7], lockClass: a),
        LockEvent(.acquire, thread: declared[9], lockClass: a),
      ], on: &v, batch: batch)
    let slotsAfter = v.threads.count
    #expect(slotsAfter == 2)
    #expect(v.heldLocks(of: declared[7]).count == 1)
    #expect(v.threadLabel(declared[500]) == "worker/t500")
  }

  /// A slot taken again belongs to its new thread alone: what the exited
  /// thread held is gone, and a `free` finds the new thread's locks. Two
  /// threads in slots taken in the reverse order are still checked in
  /// thread order.
  @Test(arguments: [false, true])
  func aSlotTakenAgainIsItsNewThreads(batch: Bool) throws {
    var (v, a, b) = try Self.validator()
    let t0 = v.declareThread(token: "t0")
    let t1 = v.declareThread(token: "t1")
    let freer = v.declareThread(token: "freer")
    try Self.run(
      [
        LockEvent(.acquire, thread: t0, lockClass: a, address: 0x5000),
        LockEvent(.exit, thread: t0),
        LockEvent(.exit, thread: t1),
      ], on: &v, batch: batch)
    // A thread takes a slot at its first event: t0's was given back,
    // taken by t1 (its first event its exit) and given back again. t4's
    // first event takes it; t3's, a new one (and so does the freer's).
    let t3 = v.declareThread(token: "t3")
    let t4 = v.declareThread(token: "t4")
    #expect(v.threads.count == 1)
    try Self.run(
      [
        LockEvent(.acquire, thread: t4, lockClass: a, address: 0x1000),
        LockEvent(.acquire, thread: t3, lockClass: b, address: 0x1010),
        LockEvent(.free, thread: freer, address: 0x5000, length: 64),
        LockEvent(.free, thread: freer, address: 0x1000, length: 64),
      ], on: &v, batch: batch)
    let findings = v.findings.findings
    #expect(findings.map(\.kind) == [.locksHeldAtExit, .heldLockFreed, .heldLockFreed])
    let holders = findings.compactMap { finding -> ThreadID? in
      guard case .heldLockFreed(_, _, let holder, _) = finding.detail else { return nil }
      return holder
    }
    #expect(holders == [t3, t4])
    #expect(v.heldLocks(of: t0).isEmpty)
    #expect(v.heldLocks(of: t3).isEmpty)
  }

  /// A validator restarted for a new thread keeps its buffers (the held
  /// locks' grown one) and nothing else: the new thread starts with interrupts on, nothing entered, no
  /// chain, no counters, whatever the thread before it did.
  @Test(arguments: [false, true])
  func aRestartedValidatorStartsClean(batch: Bool) throws {
    var (v, a, b) = try Self.validator()
    let old = v.declareThread(token: "old")
    // Three locks: the held-lock buffer grows past a trace thread's first 2.
    let c = v.declareClass(key: "C", kind: .spinlock, waits: try ClassWaitTypes(kind: .spinlock))
    try Self.run(
      [
        LockEvent(.acquire, thread: old, lockClass: a),
        LockEvent(.acquire, thread: old, lockClass: b),
        LockEvent(.acquire, thread: old, lockClass: c),
        LockEvent(.irqDisable, thread: old),
        LockEvent(.preemptDisable, thread: old),
        LockEvent(.softirqEnter, thread: old),
        LockEvent(.exit, thread: old),
      ], on: &v, batch: batch)
    let new = v.declareThread(token: "new")
    // Its first event takes the slot (a might-sleep with nothing held
    // changes no state).
    try Self.run([LockEvent(.mightSleep, thread: new)], on: &v, batch: batch)
    #expect(v.threads.count == 1)
    let state = try #require(v.validator(of: new)).state
    #expect(state.held.isEmpty && state.contexts.isEmpty && state.freedHeld.isEmpty)
    #expect(state.chainKey == 0 && state.acquireBlockers == 0 && !state.hardirqsOff)
    // The grown buffer is kept (a new thread's would hold 2).
    #expect(state.held.capacity >= 4)
    let restarted = try #require(v.validator(of: new))
    #expect(restarted.statistics.acquisitions == 0 && restarted.deepest.event == -1)
    #expect(v.statistics.acquisitions == 3)
  }

  /// `ThreadState.restart()` leaves every stored property as a new state
  /// has it, the held-lock buffer kept (emptied): taken from a thread in
  /// the middle of everything (locks held, in a softirq with interrupts,
  /// bottom halves and preemption disabled, a freed held lock, a chain and
  /// a memo), compared property by property through reflection, so that a
  /// property `restart()` forgets fails here.
  @Test func restartResetsEveryStoredProperty() throws {
    var (v, a, b) = try Self.validator()
    let t = v.declareThread(token: "t")
    try Self.run(
      [
        // Taken twice: the second time, its chain is cached.
        LockEvent(.acquire, thread: t, lockClass: a),
        LockEvent(.release, thread: t, lockClass: a),
        LockEvent(.acquire, thread: t, lockClass: a),
        LockEvent(.acquire, thread: t, lockClass: b, address: 0x1000),
        LockEvent(.free, thread: t, address: 0x1000, length: 8),
        LockEvent(.irqDisable, thread: t),
        LockEvent(.bhDisable, thread: t),
        LockEvent(.preemptDisable, thread: t),
        LockEvent(.softirqEnter, thread: t),
        LockEvent(.hardirqEnter, thread: t),
        // A softirq inside the handler leaves it (`suspendedHardirqs`),
        // and a handler inside that softirq is entered again.
        LockEvent(.softirqEnter, thread: t),
        LockEvent(.hardirqEnter, thread: t),
        LockEvent(.nmiEnter, thread: t),
      ], on: &v, batch: true)
    var state = try #require(v.validator(of: t)).state
    state.stopped = true
    state.depthWhileStopped = 7
    state.softirqsOnUnmarked = true
    // A trace's thread keeps no memo (`remembersChains`); a live one's
    // remembers as this.
    state.memo.remember(base: 1, tag: 2, slot: 0, key: 3, bits: 4)
    // A forced thread needs --preempt-rt and a threaded handler.
    state.forcedThreadDepth = 1
    state.hardirqsThreaded = true
    // The configuration's (PREEMPT_RT's), which a restart keeps.
    state.softirqContext = IRQContextID.task
    let kept = ["held", "softirqContext"]
    let fresh = ThreadState()
    // Every property but the buffer was changed, so each is tested below.
    for (x, y) in zip(Self.properties(state), Self.properties(fresh)) where x.label != "held" {
      #expect(x.text != y.text, "\(x.label) unchanged before the restart")
    }
    state.restart()
    #expect(state.softirqContext == IRQContextID.task)
    let restarted = Self.properties(state)
    #expect(restarted.count == Self.properties(fresh).count)
    for (x, y) in zip(restarted, Self.properties(fresh)) where !kept.contains(x.label) {
      #expect(x.text == y.text, "\(x.label)")
    }
    #expect(state.held.isEmpty)
  }

  /// A thread state's stored properties, each as text (the chain memo's
  /// entries spelled out: reflection cannot read an `InlineArray`).
  static func properties(_ state: ThreadState) -> [(label: String, text: String)] {
    Mirror(reflecting: state).children.map { child in
      let label = child.label ?? "?"
      guard label == "memo" else { return (label, "\(child.value)") }
      let entries = (0..<4).map { state.memo.entries[$0] }
      return (
        label, entries.map { "\($0.base) \($0.tag) \($0.key) \($0.bits)" }.joined(separator: ", ")
      )
    }
  }

  /// An exited thread's next event is validated on a fresh stack, in a new
  /// slot when the one it gave back was taken: in a batch, the validators
  /// grow between two runs of the batch.
  @Test(arguments: [false, true])
  func anExitedThreadsNextEventGetsASlot(batch: Bool) throws {
    var (v, a, b) = try Self.validator()
    let x = v.declareThread(token: "x")
    try Self.run(
      [
        LockEvent(.acquire, thread: x, lockClass: a),
        LockEvent(.exit, thread: x),
      ], on: &v, batch: batch)
    let y = v.declareThread(token: "y")
    try Self.run(
      [
        LockEvent(.acquire, thread: y, lockClass: a),
        LockEvent(.acquire, thread: x, lockClass: b),
        LockEvent(.acquire, thread: x, lockClass: a),
        LockEvent(.acquire, thread: y, lockClass: b),
      ], on: &v, batch: batch)
    #expect(v.threads.count == 2)
    #expect(v.heldLocks(of: x).map(\.lockClass) == [b, a])
    #expect(v.heldLocks(of: y).map(\.lockClass) == [a, b])
    #expect(v.findings.findings.map(\.kind) == [.locksHeldAtExit, .circularDependency])
    #expect(v.eventCount == 6)
  }
}
