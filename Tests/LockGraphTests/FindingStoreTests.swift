import Testing

@testable import LockGraph

/// The store keeps at most `capacity` distinct findings, as Valgrind keeps
/// 1,000 distinct errors: past them, a finding it keeps is still counted
/// on its own, and every occurrence of one it does not keep is counted by a
/// single `limit-exceeded` finding, new once.
@Suite struct FindingStoreTests {
  static func finding(_ kind: FindingKind, event: Int64) -> Finding {
    Finding(
      kind: kind, thread: ThreadID(0), origin: Origin(event: event), lock: nil, held: [],
      detail: .badUnlockBalance, count: 1, irqState: "")
  }

  /// Locks left held at the end of two different scopes (a test, a
  /// block), at the same place, are two findings, each with its scope's
  /// words; one scope's again is a repeat of its own. (The second scope's
  /// report said the first's "leaving the block".)
  @Test func locksLeftByTwoScopesAtOnePlaceAreTwoFindings() {
    var store = FindingStore()
    func record(_ scope: String?, interrupt: String? = nil) -> Bool {
      var f = Self.finding(.locksHeldAtExit, event: 7)
      f.detail = .locksHeldAtExit(interrupt: interrupt, scope: scope)
      return store.record(f, classes: [ClassID(3)]).isNew
    }
    #expect(record("the block"))
    #expect(record("the test"))
    #expect(!record("the test"))
    #expect(record(nil))
    #expect(record(nil, interrupt: "hardirq"))
    let names = store.findings.map { f -> String? in
      guard case .locksHeldAtExit(_, let scope) = f.detail else { return "?" }
      return scope
    }
    #expect(names == ["the block", "the test", nil, nil])
    #expect(store.findings.map(\.count) == [1, 2, 1, 1])
  }

  /// A finding is described (`make`) only when the store keeps it, or for
  /// the first past the capacity: a repeat, or one more counted by the
  /// `limit-exceeded` finding, is only counted (a buggy path taken a million
  /// times must not describe its held locks a million times).
  @Test func aRepeatIsCountedWithoutBeingDescribed() {
    var store = FindingStore()
    var made = 0
    func record(_ c: Int32, event: Int64) -> Bool {
      store.record(.badUnlockBalance, origin: Origin(event: event), classes: [ClassID(c)]) {
        made += 1
        return Self.finding(.badUnlockBalance, event: event)
      }.isNew
    }
    #expect(record(1, event: 5))
    for _ in 0..<100 { #expect(!record(1, event: 5)) }
    #expect(made == 1 && store.findings[0].count == 101)
    for c in 2...Int32(FindingStore.capacity) { _ = record(c, event: 5) }
    #expect(made == FindingStore.capacity)
    // Past the capacity: the first makes the limit finding, the rest count.
    #expect(record(-5, event: 5))
    #expect(!record(-6, event: 5))
    #expect(made == FindingStore.capacity + 1)
    #expect(store.findings.last?.kind == .limitExceeded && store.findings.last?.count == 2)
  }

  /// Two findings are the same exactly when kind, classes (in order) and
  /// site are: interleaved repeats of several findings are each counted on
  /// their own, whichever came last (the store remembers the last key
  /// looked up), and a difference in any one of the three makes another.
  @Test func interleavedRepeatsAreCountedApart() {
    var store = FindingStore()
    func record(_ kind: FindingKind, _ classes: [Int32], site: UInt64) -> Bool {
      store.record(
        kind, origin: Origin(ip: site), classes: classes.map { ClassID($0) }
      ) { Self.finding(kind, event: 0) }.isNew
    }
    let occurrences: [(FindingKind, [Int32], UInt64)] = [
      (.invalidWaitContext, [1, 2], 0x10),
      (.invalidWaitContext, [2, 1], 0x10),
      (.recursiveLocking, [1, 2], 0x10),
      (.invalidWaitContext, [1, 2], 0x20),
      (.invalidWaitContext, [1, 2, 3], 0x10),
    ]
    for (kind, classes, site) in occurrences { #expect(record(kind, classes, site: site)) }
    // Each again, in an order where no two repeats follow each other, then
    // the first three times in a row.
    for i in [3, 0, 4, 1, 2, 0, 0, 0] {
      let (kind, classes, site) = occurrences[i]
      #expect(!record(kind, classes, site: site))
    }
    #expect(store.findings.map(\.count) == [5, 2, 2, 2, 2])
  }

  @Test func distinctFindingsPastTheCapacityAreCountedByOne() {
    var store = FindingStore()
    let capacity = FindingStore.capacity
    for c in 0..<capacity {
      let (_, isNew) = store.record(
        Self.finding(.badUnlockBalance, event: Int64(c)), classes: [ClassID(Int32(c))])
      #expect(isNew)
    }
    #expect(store.count == capacity)
    // Three findings past the capacity, one of them twice.
    var news: [Bool] = []
    for c in [capacity, capacity + 1, capacity + 1, capacity + 2] {
      let (kept, isNew) = store.record(
        Self.finding(.circularDependency, event: Int64(c)), classes: [ClassID(Int32(c))])
      #expect(kept.kind == .limitExceeded)
      news.append(isNew)
    }
    #expect(news == [true, false, false, false])
    // A finding the store keeps is counted on its own still.
    let (again, isNew) = store.record(
      Self.finding(.badUnlockBalance, event: 7), classes: [ClassID(7)])
    #expect(!isNew && again.kind == .badUnlockBalance && again.count == 2)

    #expect(store.count == capacity + 1)
    let overflow = store.findings[capacity]
    #expect(overflow.kind == .limitExceeded)
    #expect(overflow.count == 4)
    // Where the first finding not kept was found.
    #expect(overflow.origin.event == Int64(capacity))
    #expect(store.summary[.limitExceeded] == 1)
    #expect(store.summary[.badUnlockBalance] == capacity)
  }

  /// `fold`: a finding recorded since a point that a key says is one kept
  /// before is folded into it (its count added, itself gone, no longer
  /// counting towards the capacity), and the rest keep their order, their
  /// counts and their repeats' lookups; a finding without a key is kept.
  /// The kept findings' chain links and held locks are bounded as their
  /// number is: a cycle along a long chain closed again and again by
  /// other edges is a new finding each time, each with the whole chain;
  /// past `linkCapacity` links in all, the next one is counted by the
  /// `limit-exceeded` finding, while fewer than `capacity` are kept.
  @Test func findingsPastTheLinkBudgetAreCountedByOne() {
    var store = FindingStore()
    let length = FindingStore.linkCapacity / 10 + 1
    let chain = (0..<length).map {
      ChainLink(lockClass: ClassID(Int32($0)), origin: Origin(), thread: nil)
    }
    let held = LockSnapshot(
      lockClass: ClassID(0), read: .exclusive, isTrylock: false, instance: 0, origin: Origin())
    func record(_ c: Int32) -> FindingKind {
      store.record(.circularDependency, origin: Origin(), classes: [ClassID(c)]) {
        Finding(
          kind: .circularDependency, thread: ThreadID(0), origin: Origin(), lock: nil,
          held: [held], detail: .circularDependency(held: held, chain: chain), count: 1,
          irqState: "")
      }.finding.kind
    }
    // Nine fit (each a tenth of the budget and a little more), the tenth not.
    for c in 0..<9 { #expect(record(Int32(c)) == .circularDependency) }
    #expect(record(9) == .limitExceeded)
    #expect(record(10) == .limitExceeded)
    #expect(store.count == 10)
    #expect(store.findings.last?.count == 2)
    // A finding kept before is still counted on its own.
    #expect(record(3) == .circularDependency)
  }

  @Test func foldingMergesRepeatsOfEarlierFindings() {
    var store = FindingStore()
    func record(_ c: Int32, trace: Int32, times: Int = 1) {
      var origin = Origin(event: 1)
      origin.trace = trace
      origin.ip = 0x100 + UInt64(c)
      for _ in 0..<times {
        _ = store.record(.badUnlockBalance, origin: origin, classes: [ClassID(c)]) {
          var f = Self.finding(.badUnlockBalance, event: 1)
          f.origin = origin
          f.lock = LockSnapshot(
            lockClass: ClassID(c), read: .exclusive, isTrylock: false, instance: 0, origin: origin)
          return f
        }
      }
    }
    // The key: the class and the ip (the trace left out); class 9 has none.
    let key: (Finding) -> (identity: [String], alias: [String]?)? = { f in
      f.lock!.lockClass.raw == 9 ? nil : (["\(f.lock!.lockClass.raw)", "\(f.origin.ip)"], nil)
    }
    var keys: [[String]: Int] = [:]
    record(1, trace: 0, times: 2)
    record(2, trace: 0)
    store.fold(recordedSince: 0, into: &keys, key: key)
    #expect(store.count == 2)
    record(2, trace: 1, times: 3)
    record(9, trace: 1)
    record(3, trace: 1)
    record(1, trace: 1)
    store.fold(recordedSince: 2, into: &keys, key: key)
    #expect(store.findings.map { $0.lock!.lockClass.raw } == [1, 2, 9, 3])
    #expect(store.findings.map(\.count) == [3, 4, 1, 1])
    // A kept finding of the folded trace is still found by its own key.
    record(3, trace: 1)
    #expect(store.findings.map(\.count) == [3, 4, 1, 2])
  }
}
