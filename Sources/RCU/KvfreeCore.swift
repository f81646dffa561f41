import Allocator
import CRCUSupport
import Lockdep
import Synchronization

#if canImport(Glibc)
  import Glibc
#endif

/// What the worker detached from one CPU.
private struct Detached {
  var cpu: Int
  var bulk: UnsafeMutableRawPointer?
  var list: UnsafeMutablePointer<RCUHead>?
}

/// The state `KvfreeRCU` and its worker share.
///
/// Invariants:
/// - `scheduled` is true from the `schedule()` that posted `wake` until the
///   worker starts the pass it causes; the worker clears it before it takes
///   the barrier waiters and detaches, so an object queued after the detach
///   schedules another pass (`schedule()` reads it after dropping the
///   `&krcp->lock` the detach also took, so it sees the clear);
/// - passes run one at a time on the worker, each detach -> grace period ->
///   free, so a waiter taken at the start of a pass is woken after every
///   object queued before it was freed;
/// - `waiters` is guarded by `waitersLock`;
/// - a CPU's `refillRequested` (`KrcState`) is set, under its lock, by
///   the miss that posted `refillWake` for it, and cleared once the refill
///   worker has refilled that CPU's cache (the kernel's per-`krcp`
///   `work_in_progress`), so misses meanwhile post nothing; refills run on
///   their own worker (`runRefillWorker`), at once, independent of the
///   draining passes.
final class KvfreeCore: @unchecked Sendable {
  let slab: SlabAllocator
  let pages: PageAllocator
  let design: KvfreeDesign
  let krcps: KrcCPUs
  let cacheLimit: Int
  let drainDelay: UInt32
  let beforeFree: (@Sendable (UnsafeMutableRawPointer) -> Void)?
  let counters = KvfreeCounters()

  private let wake = Semaphore()
  private let refillWake = Semaphore()
  private let scheduled = Atomic<Bool>(false)
  private let stopping = Atomic<Bool>(false)
  private let waitersLock = Checked.SpinLock(
    name: "kvfree_rcu_barrier_lock", key: LockClassKey("kvfree_rcu_barrier_lock"))
  private var waiters: [Semaphore] = []
  /// Posted by `barrier()` to cut the worker's drain delay short (a post
  /// left over from a pass that began anyway only makes the next pass
  /// start without the delay).
  private let hurry = Semaphore()

  init(
    slab: SlabAllocator, pages: PageAllocator, design: KvfreeDesign, cpus: Int, cacheLimit: Int,
    drainDelay: UInt32, beforeFree: (@Sendable (UnsafeMutableRawPointer) -> Void)?
  ) {
    self.slab = slab
    self.pages = pages
    self.design = design
    krcps = KrcCPUs(count: max(1, cpus), cacheLimit: cacheLimit)
    self.cacheLimit = cacheLimit
    self.drainDelay = drainDelay
    self.beforeFree = beforeFree
  }

  deinit { krcps.destroy() }

  /// The calling thread's CPU's queue (any queue is correct: each has its
  /// own lock; the CPU only spreads the contention).
  @inline(__always)
  func thisCPU() -> Int {
    let cpu = Int(rlc_rcu_current_cpu())
    return cpu < krcps.count ? cpu : cpu % krcps.count
  }

  // MARK: Under &krcp->lock

  /// Adds `object` to the CPU's array, starting a new array from the cache
  /// or from the design's non-sleeping allocation when it is full. Returns
  /// false when no page could be had. The CPU's lock is held.
  @inline(__always)
  func addToBulk(_ krcp: UnsafeMutablePointer<KrcState>, _ object: UnsafeMutableRawPointer)
    -> Bool
  {
    if let page = krcp.pointee.bulk, ArrayPage.count(page) < ArrayPage.capacity {
      ArrayPage.append(object, to: page)
      return true
    }
    return addToNewArray(krcp, object)
  }

  @inline(never)
  private func addToNewArray(
    _ krcp: UnsafeMutablePointer<KrcState>, _ object: UnsafeMutableRawPointer
  ) -> Bool {
    guard let page = cachedPage(krcp) ?? allocateAtomic(krcp) else { return false }
    startArray(page, in: krcp)
    ArrayPage.append(object, to: page)
    return true
  }

  /// Makes `page` the CPU's array being filled, counting it as used if it
  /// never held an array before. The lock is held.
  @inline(__always)
  private func startArray(_ page: UnsafeMutableRawPointer, in krcp: UnsafeMutablePointer<KrcState>)
  {
    if ArrayPage.isUnused(page) { counters.arrayPagesUsed.add(1, ordering: .relaxed) }
    ArrayPage.start(page, next: krcp.pointee.bulk)
    krcp.pointee.bulk = page
  }

  /// Adds `object` with `fresh` (a page allocated outside the lock) at
  /// hand: used only if the last array is full. Returns the page when it
  /// was not used and the cache is full (the caller frees it, unlocked).
  func addToBulk(
    _ krcp: UnsafeMutablePointer<KrcState>, _ object: UnsafeMutableRawPointer, fresh: Page
  ) -> Page? {
    if let page = krcp.pointee.bulk, ArrayPage.count(page) < ArrayPage.capacity {
      ArrayPage.append(object, to: page)
      return cache(fresh.address, in: krcp) ? nil : fresh
    }
    startArray(fresh.address, in: krcp)
    ArrayPage.append(object, to: fresh.address)
    return nil
  }

  /// Puts an empty page in the CPU's cache if it has room. The lock is held.
  private func cache(_ page: UnsafeMutableRawPointer, in krcp: UnsafeMutablePointer<KrcState>)
    -> Bool
  {
    guard krcp.pointee.cacheCount < cacheLimit else { return false }
    krcp.pointee.cache[krcp.pointee.cacheCount] = page
    krcp.pointee.cacheCount += 1
    return true
  }

  private func cachedPage(_ krcp: UnsafeMutablePointer<KrcState>) -> UnsafeMutableRawPointer? {
    var page: UnsafeMutableRawPointer? = nil
    if krcp.pointee.cacheCount > 0 {
      krcp.pointee.cacheCount -= 1
      page = krcp.pointee.cache[krcp.pointee.cacheCount]
    }
    return page
  }

  /// The design's allocation in the caller's context, `&krcp->lock` held,
  /// once the CPU's cache had no page.
  private func allocateAtomic(_ krcp: UnsafeMutablePointer<KrcState>) -> UnsafeMutableRawPointer? {
    let page: Page?
    switch design {
    case .inlineNowait:
      page = pages.allocPages(gfp: .nowait)
    case .noLocks:
      page = pages.allocPages(gfp: .noLocks)
      if page == nil { counters.nolockFailures.add(1, ordering: .relaxed) }
    case .nolock:
      page = pages.allocPagesNoLock()
      if page == nil { counters.nolockFailures.add(1, ordering: .relaxed) }
    case .deferred:
      // Nothing in the caller's context: the caller asks for a refill
      // once it has no page at all (`missedPage`).
      return nil
    }
    guard let page else { return nil }
    counters.arrayPagesAllocated.add(1, ordering: .relaxed)
    counters.pageTaken()
    ArrayPage.markUnused(page.address)
    return page.address
  }

  // MARK: Unlocked

  /// A page by a sleeping allocation (no lock held), counted in
  /// `arrayPagesAllocated` unless `counted` is false (the caller counts it).
  func allocateSleeping(counted: Bool = true) -> Page? {
    guard let page = pages.allocPages(gfp: .kernel) else { return nil }
    if counted { counters.arrayPagesAllocated.add(1, ordering: .relaxed) }
    counters.pageTaken()
    ArrayPage.markUnused(page.address)
    return page
  }

  /// Gives a page back to the page allocator (no lock held).
  func release(_ page: Page) {
    pages.freePages(page)
    counters.pagesHeld.subtract(1, ordering: .relaxed)
  }

  /// Frees one object to the slab.
  func free(_ object: UnsafeMutableRawPointer) {
    beforeFree?(object)
    slab.kfree(object)
  }

  /// Called once a call found no page at all (neither cached nor, in the
  /// headless form, by its sleeping allocation): in the deferred design,
  /// asks the refill worker to refill this CPU's cache now (the kernel's
  /// `run_page_cache_worker()`, which `kvfree_call_rcu()` calls only when
  /// `add_ptr_to_bulk_krc_lock()`, the headless form's direct page
  /// allocation included, has failed). The CPU's lock is held.
  func missedPage(_ krcp: UnsafeMutablePointer<KrcState>) {
    if design == .deferred { requestRefill(krcp) }
  }

  /// Asks the refill worker to refill this CPU's cache; once until the
  /// worker has done it. The CPU's lock is held.
  private func requestRefill(_ krcp: UnsafeMutablePointer<KrcState>) {
    if krcp.pointee.refillRequested { return }
    krcp.pointee.refillRequested = true
    refillWake.post()
  }

  /// Makes the worker run a pass soon. A plain load first: while a pass is
  /// pending, a call writes nothing shared.
  @inline(__always)
  func schedule() {
    if scheduled.load(ordering: .acquiring) { return }
    if !scheduled.exchange(true, ordering: .acquiringAndReleasing) { wake.post() }
  }

  /// Waits until every object queued before the call has been freed: a
  /// pass now, without the drain delay (`kvfree_rcu_barrier()` detaches
  /// every CPU's objects at once, then waits one grace period).
  func barrier() {
    Checked.mightSleep()
    // The grace period it waits for cannot end while the caller's own
    // section holds it open: as `rcuBarrier()`, a message, not a hang.
    precondition(
      !rcuReadLockHeld(), "KvfreeRCU.barrier() inside an RCU read-side section never returns")
    let done = Semaphore()
    waitersLock.lock()
    waiters.append(done)
    waitersLock.unlock()
    scheduled.store(true, ordering: .releasing)
    wake.post()
    if drainDelay > 0 { hurry.post() }
    done.wait()
  }

  /// Gives every cached page back; returns how many.
  @discardableResult
  func shrink() -> Int {
    var freed = 0
    withUnsafeTemporaryAllocation(of: UnsafeMutableRawPointer.self, capacity: max(1, cacheLimit)) {
      buffer in
      for i in 0..<krcps.count {
        let krcp = krcps.state(i)
        let cached = krcps.withLock(i) {
          let cached = krcp.pointee.cacheCount
          buffer.baseAddress!.update(from: krcp.pointee.cache, count: cached)
          krcp.pointee.cacheCount = 0
          return cached
        }
        for k in 0..<cached { release(Page(address: buffer[k])) }
        freed += cached
      }
    }
    return freed
  }

  /// Ends the workers after their current pass or refill.
  func stop() {
    stopping.store(true, ordering: .releasing)
    wake.post()
    if drainDelay > 0 { hurry.post() }
    refillWake.post()
  }

  // MARK: The worker

  func runWorker() {
    while true {
      wake.wait()
      if stopping.load(ordering: .acquiring) { return }
      // The delay that lets more objects gather before a pass, which a
      // barrier (`hurry`) cuts short.
      if drainDelay > 0 { hurry.wait(microseconds: drainDelay) }
      // `stop()` may have come during the delay: its pass is the last.
      pass()
    }
  }

  /// The refill worker (deferred design; the kernel's
  /// `fill_page_cache_func()`, queued with no delay): each request refills
  /// the cache of the CPU that asked with sleeping allocations, then
  /// allows that CPU's next request.
  func runRefillWorker() {
    while true {
      refillWake.wait()
      if stopping.load(ordering: .acquiring) { return }
      for i in 0..<krcps.count where krcps.withLock(i, { krcps.state(i).pointee.refillRequested }) {
        refill(cpu: i)
        krcps.withLock(i) { krcps.state(i).pointee.refillRequested = false }
      }
    }
  }

  /// One pass: detach, wait a grace period, free, recycle the pages, wake
  /// the barrier waiters taken at its start.
  private func pass() {
    scheduled.store(false, ordering: .releasing)
    waitersLock.lock()
    let woken = waiters
    waiters.removeAll()
    waitersLock.unlock()

    var detached: [Detached] = []
    for i in 0..<krcps.count {
      let krcp = krcps.state(i)
      let (bulk, list) = krcps.withLock(i) {
        defer {
          krcp.pointee.bulk = nil
          krcp.pointee.list = nil
        }
        return (krcp.pointee.bulk, krcp.pointee.list)
      }
      if bulk != nil || list != nil { detached.append(Detached(cpu: i, bulk: bulk, list: list)) }
    }
    if !detached.isEmpty {
      synchronizeRCU()
      for d in detached { freeDetached(d) }
    }
    for waiter in woken { waiter.post() }
  }

  /// Frees what was detached from one CPU: each array with one `kfreeBulk`
  /// (which reads the array and the slab's table, not the objects), then
  /// the list (`freeList`).
  private func freeDetached(_ d: Detached) {
    let started = monotonicNanoseconds()
    var freed = 0
    var array = d.bulk
    while let page = array {
      let n = ArrayPage.count(page)
      let records = ArrayPage.records(page)
      if let beforeFree { for k in 0..<n { beforeFree(records[k]) } }
      slab.kfreeBulk(UnsafeBufferPointer(start: records, count: n))
      freed += n
      array = ArrayPage.next(page)
    }
    freed += freeList(d.list)
    counters.objectsFreed.add(freed, ordering: .relaxed)
    counters.freeNanoseconds.add(monotonicNanoseconds() - started, ordering: .relaxed)
    recycle(d.bulk, cpu: d.cpu)
  }

  /// Frees the objects of a list: each `next` is read from the object just
  /// reached (a chain of dependent loads into cold memory, which is the
  /// list's cost); the objects go to the slab in batches through
  /// `kfreeBulk`, as the arrays do, so that the two paths differ only in
  /// how they find their objects. Returns how many.
  private func freeList(_ list: UnsafeMutablePointer<RCUHead>?) -> Int {
    let batchSize = 64
    return withUnsafeTemporaryAllocation(of: UnsafeMutableRawPointer.self, capacity: batchSize) {
      buffer in
      let batch = buffer.baseAddress!
      var freed = 0
      var gathered = 0
      var head = list
      while let h = head {
        head = h.pointee.next
        let object = h.pointee.object!
        beforeFree?(object)
        batch[gathered] = object
        gathered += 1
        if gathered == batchSize {
          slab.kfreeBulk(UnsafeBufferPointer(start: batch, count: gathered))
          freed += gathered
          gathered = 0
        }
      }
      slab.kfreeBulk(UnsafeBufferPointer(start: batch, count: gathered))
      return freed + gathered
    }
  }

  /// The emptied array pages go back to their CPU's cache, the rest to the
  /// allocator.
  private func recycle(_ arrays: UnsafeMutableRawPointer?, cpu: Int) {
    var spare: UnsafeMutableRawPointer? = nil
    var array = arrays
    let krcp = krcps.state(cpu)
    krcps.withLock(cpu) {
      while let page = array {
        array = ArrayPage.next(page)
        if !cache(page, in: krcp) {
          ArrayPage.start(page, next: spare)
          spare = page
        }
      }
    }
    while let page = spare {
      spare = ArrayPage.next(page)
      release(Page(address: page))
    }
  }

  /// Fills CPU `i`'s cache with sleeping allocations (deferred design).
  private func refill(cpu i: Int) {
    let krcp = krcps.state(i)
    let missing = krcps.withLock(i) { cacheLimit - krcp.pointee.cacheCount }
    guard missing > 0 else { return }
    var got: [Page] = []
    for _ in 0..<missing {
      guard let page = allocateSleeping(counted: false) else { break }
      got.append(page)
    }
    let allocated = got.count
    krcps.withLock(i) {
      while let page = got.last, cache(page.address, in: krcp) { got.removeLast() }
    }
    // Counted once cached: whoever sees the count sees the pages there.
    counters.arrayPagesAllocated.add(allocated, ordering: .releasing)
    for page in got { release(page) }
  }
}

/// The monotonic clock in nanoseconds.
private func monotonicNanoseconds() -> Int {
  var ts = timespec()
  clock_gettime(CLOCK_MONOTONIC, &ts)
  return ts.tv_sec * 1_000_000_000 + ts.tv_nsec
}
