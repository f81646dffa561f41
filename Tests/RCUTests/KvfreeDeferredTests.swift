import Allocator
import Foundation
import Lockdep
import RCU
import Testing

/// The deferred design as the kernel has it: a cache miss starts the
/// refill at once on a worker of its own (`run_page_cache_worker()`), not
/// on the next draining pass; and the headless form drops the lock and
/// allocates a page with a sleeping allocation before it falls back to
/// `synchronizeRCU()` (`add_ptr_to_bulk_krc_lock(..., can_alloc = !head)`).
@Suite(.serialized)
struct KvfreeDeferredTests {
  init() { LockValidation.policy = .collect }

  @Test("A cache miss refills the cache long before the drain delay ends")
  func refillDoesNotWaitForTheDrain() {
    let pages = PageAllocator(pages: 256, cpus: 1)
    let slab = SlabAllocator(pages: pages)
    // A drain delay of a minute: the draining pass cannot run sooner.
    // The refill is waited for up to thirty seconds (it takes
    // milliseconds; a loaded machine may keep its worker from running for
    // a while). `barrier()` cuts the delay short.
    let kv = KvfreeRCU(
      slab: slab, pages: pages, design: .deferred, cpus: 1, cacheLimit: 5,
      drainDelayMicroseconds: 60_000_000)
    let first = TestObject.make(slab)
    let queued = ContinuousClock.now
    kv.kvfreeRCU(first, head: TestObject.head(first))
    #expect(kv.statistics.listFallbacks == 1)
    while kv.statistics.arrayPagesAllocated < 5
      && ContinuousClock.now < queued + .seconds(30)
    {
      usleep(1000)
    }
    #expect(kv.statistics.arrayPagesAllocated == 5, "\(kv.statistics)")
    #expect(kv.statistics.objectsFreed == 0, "the draining pass ran already")
    // The next object finds a cached page.
    let second = TestObject.make(slab)
    kv.kvfreeRCU(second, head: TestObject.head(second))
    #expect(kv.statistics.listFallbacks == 1)
    kv.barrier()
    #expect(kv.statistics.objectsFreed == 2)
  }

  @Test("Headless with no cached page: a sleeping allocation, not synchronizeRCU()")
  func headlessAllocatesBeforeFallingBack() {
    let (slab, kv) = TestObject.oneCPU(.deferred)
    let scope = LockValidationScope()
    let object = TestObject.make(slab)
    scope.run { kv.kvfreeRCU(object) }
    let s = kv.statistics
    #expect(s.synchronousFrees == 0, "\(s)")
    #expect(s.arrayPagesUsed == 1, "\(s)")
    kv.barrier()
    #expect(kv.statistics.objectsFreed == 1)
    #expect(scope.findings.isEmpty, "\(scope.findings.map(\.text))")
    #expect(slab.objectsInUse == 0)
  }

  /// As `kvfree_call_rcu()`, which calls `run_page_cache_worker()` only
  /// once `add_ptr_to_bulk_krc_lock()`, its direct page allocation
  /// included, has failed: a headless call whose own allocation got a page
  /// asks for no refill. Before, the cache miss asked for one before the
  /// call dropped the lock to allocate, and the refill worker brought 5
  /// more pages.
  @Test("Headless whose sleeping allocation got a page asks for no refill")
  func headlessWithAPageAsksForNoRefill() {
    let (slab, kv) = TestObject.oneCPU(.deferred)
    let object = TestObject.make(slab)
    kv.kvfreeRCU(object)
    kv.barrier()
    // A refill, had one been asked for, runs at once on its own worker:
    // it is given a while to show (its pages are counted once cached).
    let deadline = ContinuousClock.now + .milliseconds(300)
    while kv.statistics.arrayPagesAllocated == 1 && ContinuousClock.now < deadline {
      usleep(1000)
    }
    let s = kv.statistics
    #expect(s.arrayPagesAllocated == 1, "\(s)")
    #expect(s.synchronousFrees == 0, "\(s)")
    #expect(s.objectsFreed == 1, "\(s)")
  }
}
