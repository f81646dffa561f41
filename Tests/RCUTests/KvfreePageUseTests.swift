import Allocator
import Foundation
import Lockdep
import RCU
import Testing

/// `arrayPagesUsed`: a page counts as used when it holds a pointer array
/// at least once; a page allocated for the cache and given back without
/// ever holding one is allocated, not used.
@Suite(.serialized)
struct KvfreePageUseTests {
  init() { LockValidation.policy = .collect }

  @Test("deferred: the pages refilled into the cache and shrunk unused are not counted as used")
  func refilledPagesThrownAwayAreNotUsed() {
    let (slab, kv) = TestObject.oneCPU(.deferred)
    // The first object finds no cached page: list fallback and a refill.
    let first = TestObject.make(slab)
    kv.kvfreeRCU(first, head: TestObject.head(first))
    kv.barrier()
    // The refill runs on a worker of its own: wait for it (it counts its
    // pages once they are in the cache).
    let deadline = ContinuousClock.now + .seconds(10)
    while kv.statistics.arrayPagesAllocated < 5 && ContinuousClock.now < deadline { usleep(1000) }
    // The second takes one of the refilled pages.
    let second = TestObject.make(slab)
    kv.kvfreeRCU(second, head: TestObject.head(second))
    kv.barrier()
    kv.shrink()
    let s = kv.statistics
    #expect(s.objectsFreed == 2)
    #expect(s.arrayPagesAllocated == 5, "\(s)")
    #expect(s.arrayPagesUsed == 1, "\(s)")
  }

  @Test("A page reused after its array was freed counts once")
  func reusedPageCountsOnce() {
    let (slab, kv) = TestObject.oneCPU(.nolock)
    for _ in 0..<3 {
      let object = TestObject.make(slab)
      kv.kvfreeRCU(object, head: TestObject.head(object))
      kv.barrier()  // the emptied page goes back to the cache, then is reused
    }
    let s = kv.statistics
    #expect(s.arrayPagesAllocated == 1, "\(s)")
    #expect(s.arrayPagesUsed == 1, "\(s)")
  }
}
