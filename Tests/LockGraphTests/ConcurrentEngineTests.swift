import Basics
import LockGraph
import Testing
import WaitContext

#if canImport(Glibc)
  import Glibc
#endif

/// One `ValidatorCore` driven by several threads at once, each with its own
/// `ThreadValidator`: lockdep's rules hold across threads, and the shared
/// state stays consistent (run under `swift test --sanitize=thread` by
/// `scripts/test-tsan.sh`).
@Suite struct ConcurrentEngineTests {
  static let classCount = 64

  /// A core with `classCount` classes of mixed kinds, ranked so that taking
  /// them in increasing order is always a valid nesting.
  static func core(onFinding: (@Sendable (Finding, Bool) -> Void)? = nil) -> (
    ValidatorCore, [ClassID]
  ) {
    let core = ValidatorCore(onFinding: onFinding)
    var ids: [ClassID] = []
    for c in 0..<classCount {
      let kind: LockKind = c < 16 ? .mutex : (c < 48 ? .spinlock : .rawSpinlock)
      let waits = try! ClassWaitTypes(kind: kind)
      ids.append(core.classes.register(key: "c\(c)", name: "&c\(c)", kind: kind, waits: waits)!.id)
    }
    return (core, ids)
  }

  /// Runs `body(t)` on `count` threads at once.
  static func onThreads(_ count: Int, _ body: @escaping @Sendable (Int) -> Void) {
    SpawnedThread.run(count, body)
  }

  @Test func randomConsistentOrdersOnEightThreadsFindNothing() {
    let (core, ids) = Self.core()
    let stats = PThreadMutex(ThreadValidator.Statistics())
    Self.onThreads(8) { t in
      var v = ThreadValidator(core: core, thread: core.registerThread(token: "\(t)"))
      var rng = SystemRandomNumberGenerator()
      for _ in 0..<3000 {
        // An increasing run of ranks: always a valid order and nesting.
        var ranks = Set<Int>()
        let depth = Int.random(in: 1...6, using: &rng)
        while ranks.count < depth { ranks.insert(Int.random(in: 0..<Self.classCount, using: &rng)) }
        let path = ranks.sorted()
        for r in path {
          try! v.process(
            LockEvent(.acquire, thread: v.thread, lockClass: ids[r], address: UInt64(r + 1)))
        }
        for r in path.reversed() {
          try! v.process(
            LockEvent(.release, thread: v.thread, lockClass: ids[r], address: UInt64(r + 1)))
        }
      }
      stats.withLock { $0.add(v.statistics) }
    }
    #expect(core.findings.isEmpty)
    let total = stats.withLock { $0 }
    #expect(total.chainHits > total.chainMisses, "chains repeat and hit the shared cache")
    #expect(core.dependencyCount > 0)
  }

  @Test func anInversionPlantedOnTwoThreadsIsFound() {
    let found = PThreadMutex<[FindingKind]>([])
    let (core, ids) = Self.core(onFinding: { f, isNew in
      if isNew { found.withLock { $0.append(f.kind) } }
    })
    let a = ids[3]
    let b = ids[5]
    Self.onThreads(2) { t in
      var v = ThreadValidator(core: core, thread: core.registerThread(token: "\(t)"))
      let (first, second) = t == 0 ? (a, b) : (b, a)
      for _ in 0..<500 {
        try! v.process(LockEvent(.acquire, thread: v.thread, lockClass: first))
        try! v.process(LockEvent(.acquire, thread: v.thread, lockClass: second))
        try! v.process(LockEvent(.release, thread: v.thread, lockClass: second))
        try! v.process(LockEvent(.release, thread: v.thread, lockClass: first))
      }
    }
    #expect(found.withLock { $0 } == [.circularDependency])
    #expect(core.findings.first?.count == 500, "every occurrence of the inverted order is counted")
  }

  @Test func classesRegisteredLazilyFromManyThreadsAreOnePerKey() {
    let core = ValidatorCore()
    let waits = try! ClassWaitTypes(kind: .spinlock)
    let ids = PThreadMutex<[String: Set<ClassID>]>([:])
    let variants = PThreadMutex<[String: ClassID]>([:])
    Self.onThreads(8) { t in
      for k in 0..<200 {
        let key = "k\((k + t * 7) % 200)"
        let id = core.classes.register(key: key, name: nil, kind: .spinlock, waits: waits)!.id
        let variant = core.classes.tables.variant(of: id, subclass: UInt8(1 + k % 7))
        ids.withLock { _ = $0[key, default: []].insert(id) }
        #expect(core.classes.tables.base(variant) == id)
        let pair = "\(key)/\(1 + k % 7)"
        variants.withLock { v in
          if let known = v[pair] { #expect(known == variant, "one class per subclass") }
          v[pair] = variant
        }
      }
    }
    let seen = ids.withLock { $0 }
    #expect(seen.count == 200)
    #expect(
      seen.values.allSatisfy { $0.count == 1 }, "one class per key, whichever thread came first")
    let pairs = variants.withLock { $0.count }
    #expect(core.classes.count == 200 + pairs, "each key and each subclass used, once")
  }
}
