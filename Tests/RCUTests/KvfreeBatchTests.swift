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

  /// One run: `count` fresh objects freed through a one-CPU kvfreeRCU of
  /// `design` whose array pages come from a `arrayPageCount`-page allocator.
  private struct Run {
    let pages = PageAllocator(pages: 512, cpus: 1)
    let arrayPages: PageAllocator
    let slab: SlabAllocator
    var objects: [UnsafeMutableRawPointer] = []
    var statistics = KvfreeStatistics()

    init(_ design: KvfreeDesign, count: Int, arrayPageCount: Int) {
      arrayPages = PageAllocator(pages: arrayPageCount, cpus: 1)
      slab = SlabAllocator(pages: pages)
      for _ in 0..<count { objects.append(TestObject.make(slab)) }
      let kv = KvfreeRCU(
        slab: slab, pages: arrayPages, design: design, cpus: 1, drainDelayMicroseconds: 0)
      // Queued inside a read section, so that no grace period ends while
      // they are queued; then every free waited for.
      withRCURead {
        for object in objects { kv.kvfreeRCU(object, head: TestObject.head(object)) }
      }
      kv.barrier()
      statistics = kv.statistics
    }
  }

  @Test("Arrays over several chained pages free every object and write into none")
  func chainedArrays() {
    let count = 3000  // about six array pages of 510 records
    let run = Run(.nolock, count: count, arrayPageCount: 64)
    #expect(run.statistics.objectsQueued == count)
    #expect(run.statistics.objectsFreed == count)
    #expect(run.statistics.listFallbacks == 0)
    #expect(run.statistics.arrayPagesAllocated >= 6, "\(run.statistics)")
    #expect(run.slab.objectsInUse == 0)
    // Neither the arrays nor kfreeBulk wrote into a freed object: each
    // still holds its unused head and its payload.
    let untouched = run.objects.filter { object in
      TestObject.damage(object) == 0
        && UnsafeRawBufferPointer(start: object, count: MemoryLayout<RCUHead>.size)
          .allSatisfy { $0 == 0 }
    }
    #expect(untouched.count == count)
    run.slab.shrink()
    #expect(run.pages.statistics.pagesInUse == 0)
    #expect(run.arrayPages.statistics.pagesInUse == 0)
  }

  @Test("A list longer than one kfreeBulk batch frees every object")
  func longList() {
    let count = 1000
    // No page ever on the per-CPU list: every object falls back to the list.
    let run = Run(.noLocks, count: count, arrayPageCount: 16)
    #expect(run.statistics.listFallbacks == count)
    #expect(run.statistics.objectsFreed == count)
    #expect(run.slab.objectsInUse == 0)
    run.slab.shrink()
    #expect(run.pages.statistics.pagesInUse == 0)
  }

  /// `barrier()` frees what is queued in a pass of its own, without the
  /// drain delay that lets objects gather (`kvfree_rcu_barrier()` detaches
  /// every CPU's objects at once): with a delay of 20 s, the barrier and
  /// the instance's end (another barrier) take far less than one delay.
  @Test("barrier() and deinit do not wait out the drain delay")
  func barrierCutsTheDrainDelayShort() {
    let pages = PageAllocator(pages: 64, cpus: 1)
    let slab = SlabAllocator(pages: pages)
    let start = ContinuousClock.now
    do {
      let kv = KvfreeRCU(
        slab: slab, pages: pages, design: .noLocks, cpus: 1, drainDelayMicroseconds: 20_000_000)
      let object = TestObject.make(slab)
      kv.kvfreeRCU(object, head: TestObject.head(object))
      kv.barrier()
      #expect(kv.statistics.objectsFreed == 1)
    }
    #expect(ContinuousClock.now - start < .seconds(10))
  }
}
