import Basics
import Testing
import WaitContext

@testable import LockGraph

/// A trace's validator keeps a slot per thread busy at once, not per thread
/// alive: when the slots are full, the threads that hold nothing, are in no
/// context and disabled nothing give theirs back
/// (`ThreadSlots.parkIdle(threads:)`), and their next event takes one
/// again. A pool of a million threads that never exit took about 1 KB a
/// thread before (3,000,000 took 3.6 GB). A parked thread must then be
/// validated exactly as if it had kept its slot.
@Suite struct IdleThreadParkingTests {
  /// `v` parks from `floor` slots on (`Int.max`: never).
  static func parking(_ v: inout LockValidator, from floor: Int) {
    v.pool.parkingFloor = floor
    v.pool.nextParking = floor
  }

  /// Ten thousand threads, each nesting A then B once and never exiting,
  /// need no more slots than the floor; what they counted is kept, and a
  /// parked thread's next acquisitions are validated in a slot again.
  @Test(arguments: [false, true])
  func idleThreadsGiveTheirSlotsBack(batch: Bool) throws {
    var (v, a, b) = try ThreadSlotsTests.validator()
    Self.parking(&v, from: 64)
    var threads: [ThreadID] = []
    for i in 0..<10_000 {
      let t = v.declareThread(token: "t\(i)")
      threads.append(t)
      try ThreadSlotsTests.run(
        [
          LockEvent(.acquire, thread: t, lockClass: a),
          LockEvent(.acquire, thread: t, lockClass: b),
          LockEvent(.release, thread: t, lockClass: b),
          LockEvent(.release, thread: t, lockClass: a),
        ], on: &v, batch: batch)
    }
    let slots = v.threads.count
    #expect(slots == 64)
    #expect(v.statistics.acquisitions == 20_000)
    #expect(v.deepestHeldStack?.depth == 2)
    #expect(v.deepestHeldStack?.thread == threads[0])
    // The first thread was parked long ago: B then A is the inversion.
    let parked = v.validator(of: threads[0]) == nil
    #expect(parked)
    try ThreadSlotsTests.run(
      [
        LockEvent(.acquire, thread: threads[0], lockClass: b),
        LockEvent(.acquire, thread: threads[0], lockClass: a),
      ], on: &v, batch: batch)
    #expect(v.heldLocks(of: threads[0]).map(\.lockClass) == [b, a])
    #expect(v.findings.findings.map(\.kind) == [.circularDependency])
  }

  /// Threads that each hold a lock are never parked: the slots grow to one
  /// per thread, and every thread still holds its lock.
  @Test func busyThreadsKeepTheirSlots() throws {
    var (v, a, _) = try ThreadSlotsTests.validator()
    Self.parking(&v, from: 8)
    let threads = (0..<100).map { v.declareThread(token: "t\($0)") }
    for (i, t) in threads.enumerated() {
      try v.process(LockEvent(.acquire, thread: t, lockClass: a, address: 0x1000 + UInt64(i) * 8))
    }
    let slots = v.threads.count
    #expect(slots == 100)
    #expect(threads.allSatisfy { v.heldLocks(of: $0).count == 1 })
  }

  /// lockdep prints the current task's interrupt-state changes under an
  /// inconsistent lock state (`print_irqtrace_events()`): a thread parked
  /// between its changes and the finding still has them, numbered as
  /// they were (two changes; interrupts last turned on by its second event).
  @Test func aParkedThreadKeepsItsInterruptStateChanges() throws {
    var v = LockValidator()
    let a = v.declareClass(
      key: "A", kind: .rawSpinlock, waits: try ClassWaitTypes(kind: .rawSpinlock))
    Self.parking(&v, from: 8)
    let t = v.declareThread(token: "t")
    let handler = v.declareThread(token: "irq")
    try v.process(LockEvent(.irqDisable, thread: t))
    try v.process(LockEvent(.irqEnable, thread: t))
    let o = v.declareClass(key: "O", kind: .mutex, waits: try ClassWaitTypes(kind: .mutex))
    for i in 0..<50 {
      let other = v.declareThread(token: "o\(i)")
      try v.process(LockEvent(.acquire, thread: other, lockClass: o))
      try v.process(LockEvent(.release, thread: other, lockClass: o))
    }
    let parked = v.validator(of: t) == nil
    #expect(parked)
    try v.process(LockEvent(.hardirqEnter, thread: handler))
    try v.process(LockEvent(.acquire, thread: handler, lockClass: a))
    try v.process(LockEvent(.release, thread: handler, lockClass: a))
    try v.process(LockEvent(.hardirqExit, thread: handler))
    try v.process(LockEvent(.acquire, thread: t, lockClass: a))
    let finding = try #require(v.findings.findings.first)
    #expect(finding.kind == .inconsistentLockState)
    let trace = try #require(finding.irqTrace)
    #expect(trace.events == 2)
    #expect(trace.hardirqsDisabled.stamp == 1 && trace.hardirqsDisabled.origin.event == 0)
    #expect(trace.hardirqsEnabled.stamp == 2 && trace.hardirqsEnabled.origin.event == 1)
  }

  /// The count of changes wraps (a `UInt32`, as the kernel's
  /// `irq_events`): a thread whose count wrapped to 0 still has changes to
  /// print, and keeps them when parked (a test of the count alone lost
  /// them). Its inconsistent lock state prints what a never-parked
  /// thread's does.
  @Test func aWrappedChangeCountIsKeptToo() throws {
    func run(parking: Bool) throws -> IrqTrace? {
      var v = LockValidator()
      let a = v.declareClass(
        key: "A", kind: .rawSpinlock, waits: try ClassWaitTypes(kind: .rawSpinlock))
      let o = v.declareClass(key: "O", kind: .mutex, waits: try ClassWaitTypes(kind: .mutex))
      Self.parking(&v, from: parking ? 8 : .max)
      let t = v.declareThread(token: "t")
      let handler = v.declareThread(token: "irq")
      try v.process(LockEvent(.irqDisable, thread: t))
      try v.process(LockEvent(.irqEnable, thread: t))
      // As after 2^32 - 4 more changes: the next two wrap the count to 0.
      v.threads[Int(v.pool.slots.base[t.index])].state.irqTrace.events = .max - 1
      try v.process(LockEvent(.irqDisable, thread: t))
      try v.process(LockEvent(.irqEnable, thread: t))
      for i in 0..<50 {
        let other = v.declareThread(token: "o\(i)")
        try v.process(LockEvent(.acquire, thread: other, lockClass: o))
        try v.process(LockEvent(.release, thread: other, lockClass: o))
      }
      let parked = v.validator(of: t) == nil
      #expect(parked == parking)
      try v.process(LockEvent(.hardirqEnter, thread: handler))
      try v.process(LockEvent(.acquire, thread: handler, lockClass: a))
      try v.process(LockEvent(.release, thread: handler, lockClass: a))
      try v.process(LockEvent(.hardirqExit, thread: handler))
      try v.process(LockEvent(.acquire, thread: t, lockClass: a))
      return try #require(v.findings.findings.first).irqTrace
    }
    let kept = try run(parking: false)
    #expect(kept?.events == 0 && kept?.hardirqsEnabled.origin.event == 3)
    #expect(try run(parking: true) == kept)
  }

  /// Random streams over 200 threads, with every kind of event
  /// (`BatchFuzzTests.Gen`, one generator per thread) and exits now and
  /// then, fed in batches to a validator that parks from 4 slots and one
  /// event at a time to one that never parks: the same findings (their
  /// whole text, interrupt-state changes included), usage bits, edges,
  /// counters, deepest stack and held locks.
  @Test(arguments: 0..<3)
  func parkedThreadsAreValidatedAsIfNeverParked(configurationIndex: Int) {
    let configuration = FastPathEquivalenceTests.configurations[configurationIndex]
    var parkings = 0
    var parkedAcquisitions: Int64 = 0
    for seed in 1...6 {
      var (parked, ids) = BatchFuzzTests.validator(configuration, bytes: ChainCache.offlineBytes)
      var (kept, _) = BatchFuzzTests.validator(configuration, bytes: ChainCache.offlineBytes)
      Self.parking(&parked, from: 4)
      Self.parking(&kept, from: .max)
      let threads = (0..<200).map { i in
        let id = parked.declareThread(token: "p\(i)")
        #expect(kept.declareThread(token: "p\(i)") == id)
        return id
      }
      var rng = SplitMix(seed: UInt64(seed) &* 7919 &+ UInt64(configurationIndex))
      var gens = threads.indices.map {
        BatchFuzzTests.Gen(seed: UInt64(seed * 1000 + $0), classes: ids)
      }
      var events: [LockEvent] = []
      func run(_ event: LockEvent) {
        events.append(event)
        try? kept.process(event)
      }
      for _ in 0..<6000 {
        let p = Int(rng.next() % UInt64(threads.count))
        let t = threads[p]
        switch rng.next() % 100 {
        case 0:
          run(LockEvent(.exit, thread: t))
          gens[p].open[0] = []
        case 1..<8:
          // The thread unwinds (most often to idle): its locks released
          // newest first, then its contexts left.
          for lock in kept.heldLocks(of: t).reversed() {
            run(LockEvent(.release, thread: t, lockClass: kept.classes.tables.base(lock.lockClass)))
          }
          for end in gens[p].open[0].reversed() { run(LockEvent(end, thread: t)) }
          gens[p].open[0] = []
        default:
          let base = { (c: ClassID) in kept.classes.tables.base(c) }
          var event = gens[p].next(t: 0, held: kept.heldLocks(of: t), base: base)
          event.thread = t
          run(event)
        }
      }
      var start = 0
      while start < events.count {
        let end = min(events.count, start + 1 + Int(rng.next() % 100))
        let refused = events[start..<end].withUnsafeBufferPointer { parked.process($0) }
        start = refused.map { start + $0.index + 1 } ?? end
        if !parked.pool.parkedIrqTraces.isEmpty { parkings += 1 }
      }
      let label = "configuration \(configurationIndex), seed \(seed)"
      // Parking retires a thread's counters, as an exit does.
      parkedAcquisitions += parked.pool.retired.acquisitions - kept.pool.retired.acquisitions
      #expect(parked.eventCount == kept.eventCount, "\(label)")
      let (x, y) = (BatchFuzzTests.findings(parked), BatchFuzzTests.findings(kept))
      if let i = zip(x, y).enumerated().first(where: { $0.element.0 != $0.element.1 })?.offset {
        Issue.record("\(label): finding \(i) of \(x.count), \(y.count): \(x[i]) VERSUS \(y[i])")
      } else if x.count != y.count {
        Issue.record("\(label): \(x.count) findings, \(y.count)")
      }
      for c in 0..<kept.classes.count {
        let id = ClassID(Int32(c))
        #expect(parked.classes.usage(id) == kept.classes.usage(id), "\(label): usage of c\(c)")
      }
      #expect(parked.graph.edges.count == kept.graph.edges.count, "\(label)")
      #expect(parked.statistics.acquisitions == kept.statistics.acquisitions, "\(label)")
      #expect(parked.statistics.chainMisses == kept.statistics.chainMisses, "\(label)")
      #expect(parked.deepestHeldStack?.depth == kept.deepestHeldStack?.depth, "\(label)")
      #expect(parked.deepestHeldStack?.thread == kept.deepestHeldStack?.thread, "\(label)")
      for t in threads {
        let same =
          parked.heldLocks(of: t).map(FastPathEquivalenceTests.bytes)
          == kept.heldLocks(of: t).map(FastPathEquivalenceTests.bytes)
        #expect(same, "\(label): held locks of \(t)")
      }
    }
    // Threads were parked, some with interrupt-state changes to keep.
    #expect(parkedAcquisitions > 0)
    #expect(parkings > 0)
  }
}
