import Allocator
import Lockdep

/// `kvfree_rcu()` for one slab allocator: frees objects after a grace
/// period, batching their pointers into page-sized arrays (the kernel's
/// `kvfree_rcu_bulk_data`) per CPU, so that a grace period and a
/// `kfreeBulk` serve hundreds of objects.
///
/// A worker thread (the kernel's `kfree_rcu_monitor` and `kfree_rcu_work`)
/// detaches every CPU's arrays and list, waits for a grace period, frees
/// the objects (arrays with `slab.kfreeBulk`, list objects one by one with
/// `slab.kfree`), and keeps the emptied pages in a small per-CPU cache.
/// Dropping the instance frees everything queued and gives every page back;
/// it waits for a grace period, so the last reference must not be dropped
/// in atomic context.
public final class KvfreeRCU: Sendable {
  private let core: KvfreeCore
  private let worker: KernelThread
  /// The deferred design's page-cache refill worker (nil in the others).
  private let refiller: KernelThread?

  /// A `kvfree_rcu()` over `slab`, taking array pages from `pages` as
  /// `design` says. `cpus`: per-CPU states (default: one per processor
  /// online); `cacheLimit`: pages each keeps for reuse (the kernel's
  /// `rcu_min_cached_objs`); `drainDelayMicroseconds`: how long the worker
  /// lets objects gather before it detaches them (`barrier()` and the
  /// instance's end do not wait for it); `beforeFree`: called with
  /// each object just before it goes back to the slab (poisoning, tests).
  public init(
    slab: SlabAllocator, pages: PageAllocator, design: KvfreeDesign, cpus: Int? = nil,
    cacheLimit: Int = 5, drainDelayMicroseconds: UInt32 = 1000,
    beforeFree: (@Sendable (UnsafeMutableRawPointer) -> Void)? = nil
  ) {
    let core = KvfreeCore(
      slab: slab, pages: pages, design: design, cpus: cpus ?? onlineProcessors(),
      cacheLimit: cacheLimit, drainDelay: drainDelayMicroseconds, beforeFree: beforeFree)
    self.core = core
    worker = KernelThread(name: "kvfree_rcu") { core.runWorker() }
    refiller =
      design == .deferred
      ? KernelThread(name: "kvfree_refill") { core.runRefillWorker() } : nil
  }

  deinit {
    core.barrier()
    core.stop()
    worker.join()
    refiller?.join()
    core.shrink()
  }

  /// The design this instance uses.
  public var design: KvfreeDesign { core.design }

  /// `kvfree_rcu(ptr, rhf)`: frees `object` (from this instance's slab)
  /// after a grace period. Never sleeps, and takes `&krcp->lock` with
  /// interrupts masked (`Checked.withInterruptsMasked`): callable under a
  /// raw spin lock, in a read-side section, in a hard interrupt (a signal
  /// handler installed with `installSignalHandler`). `head` must lie
  /// inside `object`; it is used only when no array page is at hand.
  public func kvfreeRCU(_ object: UnsafeMutableRawPointer, head: UnsafeMutablePointer<RCUHead>) {
    precondition(
      UnsafeMutableRawPointer(head) >= object, "kvfreeRCU: the head must lie inside the object")
    let cpu = core.thisCPU()
    let krcp = core.krcps.state(cpu)
    let lock = core.krcps.lockReference(cpu).pointee
    // Interrupts masked first, as `krc_this_cpu_lock()` does: the lock is
    // irq-safe (this may run in a hard interrupt). Taken here rather than
    // through `KrcCPUs.withLock(_:_:)`, so that a report names this line
    // as where `&krcp->lock` was acquired.
    Checked.withInterruptsMasked {
      lock._withUnsafeGuaranteedRef { $0.lock() }
      let queued = core.addToBulk(krcp, object)
      if !queued {
        core.missedPage(krcp)
        head.pointee.object = object
        head.pointee.next = krcp.pointee.list
        krcp.pointee.list = head
      }
      core.krcps.countQueued(cpu, fallback: !queued)
      lock._withUnsafeGuaranteedRef { $0.unlock() }
    }
    core.schedule()
  }

  /// `kvfree_rcu(ptr)` (headless): frees `object` after a grace period.
  /// May sleep (`mightSleep()`): with no array page at hand it drops
  /// `&krcp->lock` and allocates one by a sleeping allocation (every
  /// design, as the kernel's `add_ptr_to_bulk_krc_lock(..., can_alloc)`);
  /// only when that fails too does it ask for the deferred design's
  /// refill, wait for a grace period with `synchronizeRCU()` and free
  /// `object` at once.
  public func kvfreeRCU(_ object: UnsafeMutableRawPointer) {
    Checked.mightSleep()
    core.counters.headlessQueued.add(1, ordering: .relaxed)
    var cpu = core.thisCPU()
    var queued = core.krcps.withLock(cpu) { core.addToBulk(core.krcps.state(cpu), object) }
    if !queued, let page = core.allocateSleeping() {
      cpu = core.thisCPU()
      let spare = core.krcps.withLock(cpu) {
        core.addToBulk(core.krcps.state(cpu), object, fresh: page)
      }
      if let spare { core.release(spare) }
      queued = true
    }
    if queued {
      core.schedule()
      return
    }
    // No page, not even by the sleeping allocation: only now the refill
    // (`kvfree_call_rcu()`'s `run_page_cache_worker()` after
    // `add_ptr_to_bulk_krc_lock()` failed).
    cpu = core.thisCPU()
    core.krcps.withLock(cpu) { core.missedPage(core.krcps.state(cpu)) }
    synchronizeRCU()
    core.free(object)
    core.counters.synchronousFrees.add(1, ordering: .relaxed)
    core.counters.objectsFreed.add(1, ordering: .relaxed)
  }

  /// `kvfree_rcu_barrier()`: waits until every object queued before the
  /// call has been freed: a pass at once, without the drain delay, then
  /// one grace period. May sleep; inside a read-side section (whose
  /// grace period it would wait for) it stops the program with a
  /// message, as `rcuBarrier()` does.
  public func barrier() { core.barrier() }

  /// Gives every cached page back to the page allocator (the kernel's
  /// shrinker); returns how many.
  @discardableResult
  public func shrink() -> Int { core.shrink() }

  /// The counters now.
  public var statistics: KvfreeStatistics {
    let (queued, fallbacks) = core.krcps.totals()
    return core.counters.snapshot(queued: queued, listFallbacks: fallbacks)
  }
}
