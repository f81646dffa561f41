import Basics
import Testing
import WaitContext

@testable import LockGraph

/// `BatchEquivalenceTests` on wider streams: more class kinds (SRCU,
/// custom wait types, overrides), every context including NMI and
/// threaded handlers, subclasses, `nest=` locks, trylocks, reads,
/// `might-lock` and `might-sleep`, frees and inits, releases of any held
/// lock by class or by class and address. A validator fed the stream in
/// batches of random sizes must end bit for bit where one fed an event at
/// a time does: held locks, chain keys, memos, counters, deepest stacks,
/// findings (their whole text), every class's usage bits, the graph's
/// edges, and the chain cache (count, evictions, and which chains it
/// holds), with caches of every size down to one bucket.
@Suite struct BatchFuzzTests {
  static let kinds: [(LockKind, ClassWaitTypes)] =
    FastPathEquivalenceTests.kinds + [
      (.custom, try! ClassWaitTypes(kind: .custom, inner: .spin, outer: .free)),
      (.custom, try! ClassWaitTypes(kind: .custom, inner: .free)),
      (.waitOverride, try! ClassWaitTypes(kind: .waitOverride, inner: .sleep)),
      (.rawSpinlock, try! ClassWaitTypes(kind: .rawSpinlock)),
      (.rwlock, try! ClassWaitTypes(kind: .rwlock)),
      (.srcu, try! ClassWaitTypes(kind: .srcu)),
    ]

  static func validator(_ c: CheckConfiguration, bytes: Int) -> (LockValidator, [ClassID]) {
    var v = LockValidator(configuration: c, chainCacheBytes: bytes)
    let ids = kinds.enumerated().map { i, k in
      v.declareClass(key: "c\(i)", name: "&c\(i)", kind: k.0, waits: k.1)
    }
    for t in 1...3 { _ = v.declareThread(token: "\(t)") }
    return (v, ids)
  }

  static func findings(_ v: LockValidator) -> [String] {
    v.findings.findings.map { String(describing: $0) }
  }

  struct Gen {
    var rng: SplitMix
    var open: [[LockEvent.Verb]] = [[], [], []]
    let classes: [ClassID]
    let order: [ClassID]
    let contextPercent: Int
    init(seed: UInt64, classes: [ClassID]) {
      rng = SplitMix(seed: seed)
      let chosen = RandomStream.choose(4 + Int(rng.next() % 5), of: classes, &rng)
      self.classes = chosen
      order = chosen.sorted {
        BatchFuzzTests.kinds[$0.index].1.inner > BatchFuzzTests.kinds[$1.index].1.inner
      }
      contextPercent = [2, 8, 20, 35][Int(rng.next() % 4)]
    }
    mutating func below(_ n: Int) -> Int { Int(rng.next() % UInt64(n)) }

    mutating func next(t: Int, held: [HeldLock], base: (ClassID) -> ClassID) -> LockEvent {
      let thread = ThreadID(Int32(t))
      let roll = below(100)
      if below(100) < contextPercent {
        if roll < 45, let end = open[t].last {
          open[t].removeLast()
          return LockEvent(end, thread: thread)
        }
        let starts: [(LockEvent.Verb, LockEvent.Verb)] = [
          (.irqDisable, .irqEnable), (.bhDisable, .bhEnable), (.preemptDisable, .preemptEnable),
          (.hardirqEnter, .hardirqExit), (.softirqEnter, .softirqExit), (.nmiEnter, .nmiExit),
          (.hardirqEnter, .hardirqExit),
        ]
        let (s, e) = starts[below(starts.count)]
        open[t].append(e)
        return LockEvent(s, thread: thread, threaded: below(2) == 0)
      }
      if roll < 3 {
        let verb: LockEvent.Verb = below(2) == 0 ? .free : .initLock
        return LockEvent(
          verb, thread: thread, lockClass: verb == .initLock ? classes[0] : .none,
          address: 0x1000 + UInt64(below(4)) * 8, length: 8)
      }
      if roll < 5 { return LockEvent(.mightSleep, thread: thread) }
      if roll < 6 {
        return LockEvent(.mightLock, thread: thread, lockClass: classes[below(classes.count)])
      }
      if held.isEmpty || roll < 60 - 6 * held.count {
        let after =
          held.last.flatMap { h in order.firstIndex(of: base(h.lockClass)) }.map { $0 + 1 } ?? 0
        let c =
          after < order.count && below(6) != 0
          ? order[after + below(order.count - after)] : order[below(order.count)]
        let reads: [ReadMode] = [.exclusive, .exclusive, .shared, .recursive]
        let nest: ClassID =
          below(25) == 0
          ? (held.isEmpty ? classes[0] : base(held[below(held.count)].lockClass)) : .none
        return LockEvent(
          .acquire, thread: thread, lockClass: c, read: reads[below(4)],
          isTrylock: below(14) == 0, subclass: below(14) == 0 ? UInt8(1 + below(2)) : 0,
          nest: nest, address: 0x1000 + UInt64(below(4)) * 8,
          origin: Origin(ip: UInt64(1 + below(40))))
      }
      let pick = below(5) == 0 ? below(held.count) : held.count - 1
      let lock = held[pick]
      return LockEvent(
        .release, thread: thread, lockClass: base(lock.lockClass),
        address: below(6) == 0 ? 0 : lock.instance)
    }
  }

  static func compare(
    _ a: LockValidator, _ b: LockValidator, _ label: String, memo: Bool, counters: Bool
  ) -> Bool {
    var ok = true
    func check(_ cond: Bool, _ what: String) {
      if !cond {
        ok = false
        Issue.record("\(label): \(what)")
      }
    }
    check(a.eventCount == b.eventCount, "eventCount")
    for t in 0..<3 {
      let x = a.validator(of: ThreadID(Int32(t)))!
      let y = b.validator(of: ThreadID(Int32(t)))!
      check(
        x.heldLocks.map(FastPathEquivalenceTests.bytes)
          == y.heldLocks.map(FastPathEquivalenceTests.bytes), "held t\(t)")
      check(x.state.chainKey == y.state.chainKey, "chainKey t\(t)")
      check(x.state.stopped == y.state.stopped, "stopped t\(t)")
      if counters {
        check(
          x.counters.acquisitions == y.counters.acquisitions,
          "acq t\(t) \(x.counters.acquisitions) \(y.counters.acquisitions)")
        check(
          x.counters.chainHits == y.counters.chainHits,
          "hits t\(t) \(x.counters.chainHits) \(y.counters.chainHits)")
        check(
          x.counters.chainMisses == y.counters.chainMisses,
          "misses t\(t) \(x.counters.chainMisses) \(y.counters.chainMisses)")
      }
      if memo {
        for i in 0..<4 {
          let e = x.state.memo.entries[i]
          let f = y.state.memo.entries[i]
          check(
            e.base == f.base && e.tag == f.tag && e.key == f.key && e.bits == f.bits,
            "memo t\(t) slot \(i)")
        }
      }
      check(x.deepest == y.deepest, "deepest t\(t)")
    }
    check(findings(a) == findings(b), "findings")
    for c in 0..<a.classes.count {
      check(a.classes.usage(ClassID(Int32(c))) == b.classes.usage(ClassID(Int32(c))), "usage c\(c)")
    }
    check(a.classes.count == b.classes.count, "class count")
    check(a.graph.edges.count == b.graph.edges.count, "edges")
    check(
      a.core.chains.count == b.core.chains.count,
      "cache count \(a.core.chains.count) \(b.core.chains.count)")
    check(a.core.chains.evictions == b.core.chains.evictions, "evictions")
    return ok
  }

  @Test(arguments: 0..<3, [ChainCache.offlineBytes, 64, 512])
  func batchesAgreeWithSingleEventsOnWideStreams(configurationIndex: Int, bytes: Int) {
    let configuration = FastPathEquivalenceTests.configurations[configurationIndex]
    var failures = 0
    var acquisitions: Int64 = 0
    for seed in 1...15 {
      var (single, ids) = Self.validator(configuration, bytes: bytes)
      var (batched, _) = Self.validator(configuration, bytes: bytes)
      var rng = SplitMix(seed: UInt64(seed) &* 104729 &+ UInt64(bytes))
      var gen = Gen(seed: UInt64(seed) &* 31 &+ UInt64(configurationIndex), classes: ids)
      var events: [LockEvent] = []
      var keys: Set<UInt64> = []
      for _ in 0..<1500 {
        let t = Int(rng.next() % 3)
        let base = { (c: ClassID) in single.classes.tables.base(c) }
        let event = gen.next(t: t, held: single.heldLocks(of: ThreadID(Int32(t))), base: base)
        events.append(event)
        try? single.process(event)
        keys.insert(single.validator(of: ThreadID(Int32(t)))!.state.chainKey)
      }
      var start = 0
      while start < events.count {
        let end = min(events.count, start + 1 + Int(rng.next() % 100))
        let refused = events[start..<end].withUnsafeBufferPointer { batched.process($0) }
        start = refused.map { start + $0.index + 1 } ?? end
      }
      acquisitions += batched.statistics.acquisitions
      let label = "configuration \(configurationIndex), \(bytes) bytes, seed \(seed)"
      var ok = Self.compare(batched, single, label, memo: true, counters: true)
      for k in keys where batched.core.chains.contains(k) != single.core.chains.contains(k) {
        ok = false
        Issue.record("\(label): the chain caches differ")
        break
      }
      if !ok {
        failures += 1
        if failures > 3 { return }
      }
    }
    #expect(acquisitions > 0)
  }
}
