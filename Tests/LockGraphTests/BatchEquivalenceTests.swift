import Basics
import Testing
import WaitContext

@testable import LockGraph

/// `LockValidator.process(_:)` on a batch (what the trace readers call:
/// acquisitions, releases and quiet context events read in place
/// (`processQuietContextEvent`), the fast paths tried once, the
/// core's lock taken once per batch) against the same validator fed one
/// event at a time, on random interleaved streams of three threads with
/// every context, frees and re-initializations across threads, unlocks of
/// locks not held, threads that exit and start again, and events the
/// stream's own rules refuse. Batching is
/// an optimization: after every batch both hold the same locks bit for
/// bit, and at the end they have the same findings (kind, count, event
/// number and class), counters, and deepest held stack (against the
/// depth observed from outside after each acquisition). Each stream runs
/// with the trace validator's chain cache and with a cache of one bucket,
/// whose evictions send chains whose dependencies are all known back
/// through validation (`acquireInBatch` in a batch, the full
/// path one event at a time).
@Suite struct BatchEquivalenceTests {
  static func validator(_ configuration: CheckConfiguration, chainCacheBytes: Int) -> (
    LockValidator, [ClassID]
  ) {
    var v = LockValidator(configuration: configuration, chainCacheBytes: chainCacheBytes)
    let ids = FastPathEquivalenceTests.kinds.enumerated().map { i, k in
      v.declareClass(key: "c\(i)", name: "&c\(i)", kind: k.0, waits: k.1)
    }
    for t in 1...3 { _ = v.declareThread(token: "\(t)") }
    return (v, ids)
  }

  /// A finding as compared: what, how often, where first, on which class.
  static func summary(_ v: LockValidator) -> [String] {
    v.findings.findings.map {
      "\($0.kind) x\($0.count) @\($0.origin.event) \($0.lock.map { "\($0.lockClass.raw)" } ?? "-")"
    }
  }

  @Test(arguments: 0..<3, [ChainCache.offlineBytes, 64])
  func batchesAgreeWithSingleEvents(configurationIndex: Int, chainCacheBytes: Int) throws {
    let configuration = FastPathEquivalenceTests.configurations[configurationIndex]
    var refusals = 0
    for seed in 1...60 {
      var (single, ids) = Self.validator(configuration, chainCacheBytes: chainCacheBytes)
      var (batched, _) = Self.validator(configuration, chainCacheBytes: chainCacheBytes)
      var rng = SplitMix(seed: UInt64(seed) &* 7919)
      var streams = (0..<3).map { t in RandomStream(seed: UInt64(seed * 3 + t), classes: ids) }
      var events: [LockEvent] = []
      var deepest: (depth: Int, thread: ThreadID) = (0, ThreadID(-1))
      for _ in 0..<900 {
        let t = Int(rng.next() % 3)
        let roll = rng.next() % 100
        var event: LockEvent
        if roll < 2 {
          // Memory freed or a lock re-initialized where some thread's lock may be.
          let verb: LockEvent.Verb = rng.next() % 2 == 0 ? .free : .initLock
          event = LockEvent(
            verb, thread: ThreadID(Int32(t)), lockClass: verb == .initLock ? ids[0] : .none,
            address: 0x1000 + (rng.next() % 3) * 8, length: 8)
        } else if roll < 3 {
          // An unlock of a lock that is not held, or an enable with nothing disabled (refused).
          event =
            rng.next() % 2 == 0
            ? LockEvent(.release, thread: ThreadID(Int32(t)), lockClass: ids[Int(rng.next() % 4)])
            : LockEvent(.preemptEnable, thread: ThreadID(Int32(t)))
        } else if roll < 4 {
          // The thread exits (its slot is given back, `ThreadSlots`); its
          // next event starts it again with nothing held or open.
          event = LockEvent(.exit, thread: ThreadID(Int32(t)))
          streams[t].open = []
        } else {
          guard let e = streams[t].next(held: single.heldLocks(of: ThreadID(Int32(t)))) else {
            continue
          }
          event = e
          event.thread = ThreadID(Int32(t))
        }
        events.append(event)
        do {
          try single.process(event)
          // The deepest stack, observed from outside after each acquisition.
          let depth = single.heldLocks(of: event.thread).count
          if event.verb == .acquire && depth > deepest.depth { deepest = (depth, event.thread) }
        } catch { refusals += 1 }
      }
      // The same events in batches of random sizes; after a refusal the
      // batch goes on from the event after the refused one.
      var start = 0
      while start < events.count {
        let end = min(events.count, start + 1 + Int(rng.next() % 64))
        let refused = events[start..<end].withUnsafeBufferPointer { batched.process($0) }
        start = refused.map { start + $0.index + 1 } ?? end
      }
      #expect(batched.eventCount == single.eventCount, "seed \(seed)")
      for t in 0..<3 {
        let a = batched.heldLocks(of: ThreadID(Int32(t)))
        let b = single.heldLocks(of: ThreadID(Int32(t)))
        #expect(a.map(FastPathEquivalenceTests.bytes) == b.map(FastPathEquivalenceTests.bytes))
      }
      #expect(Self.summary(batched) == Self.summary(single), "seed \(seed)")
      // The deepest stack and the thread that first held it.
      for v in [single, batched] {
        #expect(v.deepestHeldStack?.depth == deepest.depth, "seed \(seed)")
        #expect(v.deepestHeldStack?.thread == deepest.thread, "seed \(seed)")
      }
      #expect(batched.statistics.acquisitions == single.statistics.acquisitions)
      #expect(batched.statistics.chainHits == single.statistics.chainHits)
      #expect(batched.statistics.chainMisses == single.statistics.chainMisses)
    }
    // The streams reach the refusal path, not only the accepted one.
    #expect(refusals > 0)
  }

  /// A segment whose context limit changed under its newest lock: a
  /// threaded hard interrupt holds a `spinlock_t`, and a hard interrupt
  /// that is not threaded, nested in it, takes another. The running wait
  /// type kept in the held lock was computed for the threaded handler's
  /// limit; the nested handler's is stricter, so both paths must compute it
  /// again (and find the invalid wait context every time, not only while
  /// the usage bits are new).
  @Test(arguments: 0..<3)
  func aNestedHandlerWithAnotherLimitIsCheckedAgain(configurationIndex: Int) {
    let configuration = FastPathEquivalenceTests.configurations[configurationIndex]
    var (single, _) = Self.validator(configuration, chainCacheBytes: ChainCache.offlineBytes)
    var (batched, _) = Self.validator(configuration, chainCacheBytes: ChainCache.offlineBytes)
    let outer = single.declareClass(
      key: "outer", kind: .spinlock, waits: try! ClassWaitTypes(kind: .spinlock))
    let inner = single.declareClass(
      key: "inner", kind: .spinlock, waits: try! ClassWaitTypes(kind: .spinlock))
    _ = batched.declareClass(
      key: "outer", kind: .spinlock, waits: try! ClassWaitTypes(kind: .spinlock))
    _ = batched.declareClass(
      key: "inner", kind: .spinlock, waits: try! ClassWaitTypes(kind: .spinlock))
    let t = ThreadID(0)
    var events: [LockEvent] = []
    for _ in 0..<3 {
      // (A softirq, whose limit is a threaded handler's: a hardirq nested
      // in a threaded one counts as threaded, as lockdep keeps the flag.)
      events += [
        LockEvent(.softirqEnter, thread: t),
        LockEvent(.acquire, thread: t, lockClass: outer),
        LockEvent(.hardirqEnter, thread: t),
        LockEvent(.acquire, thread: t, lockClass: inner),
        LockEvent(.release, thread: t, lockClass: inner),
        LockEvent(.hardirqExit, thread: t),
        LockEvent(.release, thread: t, lockClass: outer),
        LockEvent(.softirqExit, thread: t),
      ]
    }
    for e in events { try? single.process(e) }
    #expect(events.withUnsafeBufferPointer { batched.process($0) } == nil)
    #expect(Self.summary(batched) == Self.summary(single))
    #expect(batched.statistics.chainHits == single.statistics.chainHits)
    #expect(batched.statistics.chainMisses == single.statistics.chainMisses)
    // With PROVE_RAW_LOCK_NESTING, a spinlock_t in a hard interrupt that is
    // not threaded is an invalid wait context, each of the three times.
    if configuration.proveRawLockNesting && !configuration.preemptRT {
      #expect(
        single.findings.findings.contains { $0.kind == .invalidWaitContext && $0.count == 3 })
    }
  }
}
