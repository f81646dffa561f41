import Allocator
import Lockdep
import RCU
import Testing

/// kvfreeRCU's batches: arrays chained over several pages, and a list
/// longer than one `kfreeBulk` batch, all freed after one grace period,
/// without a write into any object on the array path.
@Suite(.serialized)
struct KvfreeBatchTests {
  init() { LockValidation.policy = .collect }

  /// Queues `count` objects inside a read section (so that no grace period
  /// ends while they are queued), then waits for them all.
  private func queueAndWait(_ kv: KvfreeRCU, _ objects: [UnsafeMutableRawPointer]) {
    withRCURead {
      for object in objects { kv.kvfreeRCU(object, head: TestObject.head(object)) }
    }
    kv.barrier()
  }

  @Test("Arrays over several chained pages free every object and write into none")
  func chainedArrays() {
    let pages = PageAllocator(pages: 512, cpus: 1)
    let arrayPages = PageAllocator(pages: 64, cpus: 1)
    let slab = SlabAllocator(pages: pages)
    let count = 3000  // about six array pages of 510 records
    var objects: [UnsafeMutableRawPointer] = []
    for _ in 0..<count { objects.append(TestObject.make(slab)) }
    var statistics = KvfreeStatistics()
    do {
      let kv = KvfreeRCU(
        slab: slab, pages: arrayPages, design: .nolock, cpus: 1, drainDelayMicroseconds: 0)
      queueAndWait(kv, objects)
      statistics = kv.statistics
    }
    #expect(statistics.objectsQueued == count)
    #expect(statistics.objectsFreed == count)
    #expect(statistics.listFallbacks == 0)
    #expect(statistics.arrayPagesAllocated >= 6, "\(statistics)")
    #expect(slab.objectsInUse == 0)
    // Neither the arrays nor kfreeBulk wrote into a freed object: each
    // still holds its unused head and its payload.
    let untouched = objects.filter { object in
      TestObject.damage(object) == 0
        && UnsafeRawBufferPointer(start: object, count: MemoryLayout<RCUHead>.size)
          .allSatisfy { $0 == 0 }
    }
    #expect(untouched.count == count)
    slab.shrink()
    #expect(pages.statistics.pagesInUse == 0)
    #expect(arrayPages.statistics.pagesInUse == 0)
  }

  @Test("A list longer than one kfreeBulk batch frees every object")
  func longList() {
    let pages = PageAllocator(pages: 512, cpus: 1)
    // No page ever on the per-CPU list: every object falls back to the list.
    let arrayPages = PageAllocator(pages: 16, cpus: 1)
    let slab = SlabAllocator(pages: pages)
    let count = 1000
    var objects: [UnsafeMutableRawPointer] = []
    for _ in 0..<count { objects.append(TestObject.make(slab)) }
    var statistics = KvfreeStatistics()
    do {
      let kv = KvfreeRCU(
        slab: slab, pages: arrayPages, design: .noLocks, cpus: 1, drainDelayMicroseconds: 0)
      queueAndWait(kv, objects)
      statistics = kv.statistics
    }
    #expect(statistics.listFallbacks == count)
    #expect(statistics.objectsFreed == count)
    #expect(slab.objectsInUse == 0)
    slab.shrink()
    #expect(pages.statistics.pagesInUse == 0)
  }
}
