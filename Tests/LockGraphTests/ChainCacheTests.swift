import Basics
import Testing

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
}
