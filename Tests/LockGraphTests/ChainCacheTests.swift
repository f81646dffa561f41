import Basics
import Testing
import WaitContext

@testable import LockGraph

/// The chain cache as a set-associative cache with a fixed budget: what is
/// inserted is found until a full bucket evicts it, and `insertNew` (a key
/// known to be absent) leaves the cache exactly as `insert` would.
@Suite struct ChainCacheTests {
  @Test func aFullBucketEvictsItsKeysInTurn() {
    // One bucket of eight ways.
    let cache = ChainCache(bytes: 64)
    #expect(cache.bytes == 64)
    for k in UInt64(1)...8 { cache.insert(k) }
    #expect((UInt64(1)...8).allSatisfy(cache.contains))
    #expect(cache.count == 8 && cache.evictions == 0)
    // Inserting a key that is there changes nothing.
    cache.insert(3)
    #expect(cache.count == 8 && cache.evictions == 0)
    cache.insert(9)
    cache.insertNew(10)
    #expect(cache.contains(9) && cache.contains(10))
    #expect(!cache.contains(1) && !cache.contains(2))
    #expect((UInt64(3)...8).allSatisfy(cache.contains))
    #expect(cache.evictions == 2)
  }

  @Test func insertNewLeavesTheCacheAsInsertDoes() {
    var rng = SplitMix(seed: 11)
    let a = ChainCache(bytes: 1024)
    let b = ChainCache(bytes: 1024)
    var seen: [UInt64] = []
    for _ in 0..<2_000 {
      // Keys from a small range, so that some come back after eviction.
      let key = rng.next() % 400 &* 0x9E37_79B9_7F4A_7C15
      seen.append(key)
      if !a.contains(key) {
        a.insert(key)
        b.insertNew(key)
      }
      #expect(a.count == b.count && a.evictions == b.evictions)
    }
    #expect(a.evictions > 0)
    #expect(seen.allSatisfy { a.contains($0) == b.contains($0) })
  }

  /// `containsBranchFree` answers as `contains` does: for a key in each
  /// way of a full bucket, for key 0 (stored as 1), for keys that share a
  /// bucket with others and are absent, and for keys differing from a
  /// present one in one bit only (a difference the comparison must see in
  /// any bit).
  @Test func theBranchFreeLookupAnswersAsTheLookupDoes() {
    // One bucket of eight ways, filled: a hit at every way.
    let one = ChainCache(bytes: 64)
    let keys: [UInt64] = [0, 5, 1 << 63, 0xFFFF_FFFF_FFFF_FFFF, 42, 7 << 40, 99, 12_345]
    for k in keys { one.insert(k) }
    #expect(one.count == 8 && one.evictions == 0)
    for k in keys {
      #expect(one.lookup.containsBranchFree(k), "key \(k)")
      #expect(one.lookup.contains(k))
    }
    for k in keys {
      for bit in 0..<64 {
        let near = k ^ (1 << UInt64(bit))
        #expect(one.lookup.containsBranchFree(near) == one.lookup.contains(near), "key \(near)")
      }
    }
    // Many buckets, some evicting: the same answers for present and absent keys.
    var rng = SplitMix(seed: 5)
    let many = ChainCache(bytes: 1024)
    var seen: [UInt64] = []
    for _ in 0..<3_000 {
      let key = rng.next() % 600 &* 0x9E37_79B9_7F4A_7C15
      seen.append(key)
      many.insert(key)
    }
    #expect(many.evictions > 0)
    var hits = 0
    for key in seen + (0..<500).map({ _ in rng.next() }) {
      let answer = many.lookup.contains(key)
      if answer { hits += 1 }
      #expect(many.lookup.containsBranchFree(key) == answer)
    }
    #expect(hits > 0 && hits < seen.count)
  }

  /// A trace's validator counts a chain evicted from its cache and taken
  /// again as a miss (lockdep's `lookup_chain_cache()` not finding it),
  /// in a batch and one event at a time alike: it keeps no per-thread memo
  /// of recent chains that would count it as a hit.
  @Test(arguments: [true, false])
  func anEvictedChainIsAMissInATrace(batched: Bool) throws {
    // One bucket of eight ways.
    var v = LockValidator(chainCacheBytes: 64)
    let classes = (0..<12).map {
      v.declareClass(key: "c\($0)", kind: .spinlock, waits: ClassWaitTypes(inner: .spin))
    }
    let t = v.declareThread(token: "t")
    var events: [LockEvent] = []
    func take(_ c: ClassID) {
      events.append(LockEvent(.acquire, thread: t, lockClass: c))
      events.append(LockEvent(.release, thread: t, lockClass: c))
    }
    // Class 0 twice (a miss, then a hit), then eleven other chains of one
    // lock each, which evict its chain, then class 0 again.
    take(classes[0])
    take(classes[0])
    for c in classes.dropFirst() { take(c) }
    take(classes[0])
    if batched {
      let refused = events.withUnsafeBufferPointer { v.process($0) }
      #expect(refused == nil)
    } else {
      for e in events { try v.process(e) }
    }
    #expect(v.core.chains.evictions > 0)
    #expect(v.statistics.acquisitions == 14)
    #expect(v.statistics.chainHits == 1)
    #expect(v.statistics.chainMisses == 13)
  }
}
