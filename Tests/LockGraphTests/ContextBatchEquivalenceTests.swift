import Basics
import Testing
import WaitContext

@testable import LockGraph

/// `LockValidator.process(_:)` on batches, which takes context events in
/// place when they are quiet (`processQuietContextEvent`), against the
/// same events one at a time through the full path (`process(_:)` of one
/// event never reads in place), on streams made mostly of context events
/// in any order: exits that do not match the innermost context, enables
/// without a disable (refused), NMIs, threaded and plain hard interrupts
/// nested in each other, locks taken and left held inside handlers (the
/// exit reports them), irq- and bh-enables that mark held locks, might-lock
/// and might-sleep, and a thread whose validation stopped (more than
/// `ThreadValidator.maxHeldDepth` locks held). After every batch both
/// validators hold each thread's locks, contexts and counts alike; at the
/// end they have the same findings (kind, count, event, class, irq state).
@Suite struct ContextBatchEquivalenceTests {
  static let threadCount = 3

  /// Every verb that changes a context or a count.
  static let contextVerbs: [LockEvent.Verb] = [
    .hardirqEnter, .hardirqExit, .softirqEnter, .softirqExit, .nmiEnter, .nmiExit, .irqDisable,
    .irqEnable, .bhDisable, .bhEnable, .preemptDisable, .preemptEnable,
  ]

  static func summary(_ v: LockValidator) -> [String] {
    v.findings.findings.map {
      "\($0.kind) x\($0.count) @\($0.origin.event) t\($0.thread.raw) "
        + "\($0.lock.map { "\($0.lockClass.raw)" } ?? "-") \($0.irqState) held \($0.held.count) "
        + "\($0.detail) \($0.irqTrace.map { "\($0)" } ?? "-")"
    }
  }

  /// What the thread validator keeps between events, as compared.
  static func state(_ v: LockValidator, _ t: ThreadID) -> String {
    guard let tv = v.validator(of: t) else { return "exited" }
    let s = tv.state
    let held = tv.heldLocks.map(FastPathEquivalenceTests.bytes)
    return
      "\(s.contexts) h\(s.hardirqDepth) s\(s.softirqDepth) n\(s.nmiDepth) "
      + "i\(s.irqDisableDepth) b\(s.bhDisableDepth) p\(s.preemptDisableDepth) "
      + "stopped \(s.stopped) key \(s.chainKey) freed \(s.freedHeld.count) "
      + "blockers \(s.acquireBlockers)/\(s.releaseBlockers) held \(held) irq \(s.irqTrace) "
      + "preempt-off at \(String(describing: s.contextsDisabledPreemptionAt)) "
      + "at hardirq entry \(s.depthsAtHardirqEntry)"
  }

  /// One random event of thread `t`, which holds `held`; `open` keeps the
  /// verbs that would close what it opened, innermost last (followed
  /// often, not always).
  static func event(
    _ t: ThreadID, held: [HeldLock], open: inout [LockEvent.Verb], classes: [ClassID],
    stopOne: inout Bool, _ rng: inout SplitMix
  ) -> [LockEvent] {
    func below(_ n: Int) -> Int { Int(rng.next() % UInt64(n)) }
    let roll = below(100)
    let origin = Origin(ip: UInt64(1 + below(40)))
    switch roll {
    case 0..<20:
      // Close the innermost thing opened, as a well-behaved program does.
      if let end = open.popLast() { return [LockEvent(end, thread: t, origin: origin)] }
      fallthrough
    case 20..<38:
      // Open something.
      let pairs: [(LockEvent.Verb, LockEvent.Verb)] = [
        (.irqDisable, .irqEnable), (.bhDisable, .bhEnable), (.preemptDisable, .preemptEnable),
        (.hardirqEnter, .hardirqExit), (.softirqEnter, .softirqExit), (.nmiEnter, .nmiExit),
      ]
      let (start, end) = pairs[below(pairs.count)]
      open.append(end)
      return [LockEvent(start, thread: t, threaded: below(3) == 0, origin: origin)]
    case 38..<46:
      // Any context verb at all: mismatched exits, enables of nothing.
      let verb = contextVerbs[below(contextVerbs.count)]
      return [LockEvent(verb, thread: t, threaded: below(2) == 0, origin: origin)]
    case 46..<72:
      let reads: [ReadMode] = [.exclusive, .exclusive, .shared, .recursive]
      return [
        LockEvent(
          .acquire, thread: t, lockClass: classes[below(classes.count)], read: reads[below(4)],
          isTrylock: below(12) == 0, address: UInt64(0x1000 + below(4) * 8), origin: origin)
      ]
    case 72..<92:
      if !held.isEmpty {
        let lock = below(4) == 0 ? held[below(held.count)] : held[held.count - 1]
        return [
          LockEvent(
            .release, thread: t, lockClass: lock.lockClass, address: lock.instance, origin: origin)
        ]
      }
      return [LockEvent(.release, thread: t, lockClass: classes[below(classes.count)])]
    case 92..<95:
      return [
        LockEvent(
          .mightLock, thread: t, lockClass: classes[below(classes.count)],
          address: UInt64(0x1000 + below(4) * 8), origin: origin)
      ]
    case 95..<97:
      return [LockEvent(.mightSleep, thread: t, origin: origin)]
    case 97:
      open = []
      return [LockEvent(.exit, thread: t)]
    case 98:
      return [
        LockEvent(
          .free, thread: t, address: UInt64(0x1000 + below(4) * 8), length: 8, origin: origin)
      ]
    default:
      // Once per stream: enough locks held that the thread's validation
      // stops, and its context events go on, accepted and ignored, until
      // it exits.
      guard stopOne else { return [LockEvent(.mightSleep, thread: t, origin: origin)] }
      stopOne = false
      return (0...ThreadValidator.maxHeldDepth).map { i in
        LockEvent(
          .acquire, thread: t, lockClass: classes[2], read: .recursive,
          address: UInt64(0x9000 + i * 8), origin: origin)
      }
    }
  }

  @Test(arguments: 0..<3)
  func contextHeavyBatchesAgreeWithSingleEvents(configurationIndex: Int) {
    let configuration = FastPathEquivalenceTests.configurations[configurationIndex]
    var refusals = 0
    var inPlaceCandidates = 0
    for seed in 1...80 {
      var (single, ids) = BatchEquivalenceTests.validator(
        configuration, chainCacheBytes: ChainCache.offlineBytes)
      var (batched, _) = BatchEquivalenceTests.validator(
        configuration, chainCacheBytes: ChainCache.offlineBytes)
      var rng = SplitMix(seed: UInt64(seed) &* 104_729)
      // A few classes per seed, so that chains and usage bits repeat.
      let classes = RandomStream.choose(3 + Int(rng.next() % 3), of: ids, &rng)
      var open = Array(repeating: [LockEvent.Verb](), count: Self.threadCount)
      var stopOne = seed == 3
      for _ in 0..<40 {
        // One batch: its events go through `single` as they are made.
        var events: [LockEvent] = []
        let size = 1 + Int(rng.next() % 40)
        while events.count < size {
          let t = Int(rng.next() % UInt64(Self.threadCount))
          let id = ThreadID(Int32(t))
          for e in Self.event(
            id, held: single.heldLocks(of: id), open: &open[t], classes: classes, stopOne: &stopOne,
            &rng)
          {
            events.append(e)
            if Self.contextVerbs.contains(e.verb) { inPlaceCandidates += 1 }
            do { try single.process(e) } catch { refusals += 1 }
          }
        }
        var start = 0
        while start < events.count {
          let refused = events[start...].withUnsafeBufferPointer { batched.process($0) }
          start = refused.map { start + $0.index + 1 } ?? events.count
        }
        #expect(batched.eventCount == single.eventCount, "seed \(seed)")
        for t in 0..<Self.threadCount {
          let id = ThreadID(Int32(t))
          #expect(Self.state(batched, id) == Self.state(single, id), "seed \(seed) thread \(t)")
        }
      }
      #expect(Self.summary(batched) == Self.summary(single), "seed \(seed)")
      #expect(batched.statistics.acquisitions == single.statistics.acquisitions, "seed \(seed)")
      #expect(batched.statistics.chainHits == single.statistics.chainHits, "seed \(seed)")
      #expect(batched.statistics.chainMisses == single.statistics.chainMisses, "seed \(seed)")
      // Every usage bit set alike.
      for c in ids {
        #expect(batched.core.classes.tables.usage(c) == single.core.classes.tables.usage(c))
      }
    }
    #expect(refusals > 0)
    #expect(inPlaceCandidates > 0)
  }
}
