import Allocator
import CRCUSupport
import Lockdep
import Synchronization

#if canImport(Glibc)
  import Glibc
#endif

/// The `rcu_head` a caller embeds in an object it frees with
/// `KvfreeRCU.kvfreeRCU(_:head:)`: when no pointer-array page is at hand,
/// the object is queued on a list threaded through it. It must lie inside
/// the object, which owns it until the object is freed.
public struct RCUHead {
  /// The next object's head on the same list.
  var next: UnsafeMutablePointer<RCUHead>?
  /// The object this head belongs to.
  var object: UnsafeMutableRawPointer?

  /// An unused head.
  public init() {}
}

/// Where `kvfreeRCU` gets a page for a new pointer array while it holds the
/// per-CPU raw spin lock `&krcp->lock`: the designs the kernel went
/// through, side by side.
public enum KvfreeDesign: String, Sendable, CaseIterable {
  /// `__get_free_page(GFP_NOWAIT)` under the raw lock, as the kernel did in
  /// 2020: when the per-CPU page lists are empty the allocator takes
  /// `&zone->lock` (a `spinlock_t`) inside `&krcp->lock` (raw), an invalid
  /// wait context the validator reports.
  case inlineNowait
  /// `allocPages(gfp: .noLocks)`: the per-CPU list only, no lock; the list
  /// fallback when it is empty.
  case noLocks
  /// `allocPagesNoLock()` (`alloc_pages_nolock()`, Linux 6.15): trylocks
  /// only, so no wait-context violation is possible; nil instead of waiting.
  case nolock
  /// Never allocate in the caller's context: a worker thread refills the
  /// per-CPU page cache with sleeping `.kernel` allocations; the caller only
  /// takes cached pages, else falls back to the list.
  case deferred
}

/// Counters of one `KvfreeRCU`.
public struct KvfreeStatistics: Sendable, Equatable {
  /// Pages taken from the page allocator for pointer arrays.
  public var arrayPagesAllocated = 0
  /// The most pages held at once (arrays in use plus the cache).
  public var peakArrayPages = 0
  /// Objects queued on the list threaded through their heads (no array page).
  public var listFallbacks = 0
  /// Lock-free page allocations (`.noLocks`, `.nolock`) that found no page.
  public var nolockFailures = 0
  /// Objects handed to `kvfreeRCU`, in either form.
  public var objectsQueued = 0
  /// Objects freed after their grace period.
  public var objectsFreed = 0
  /// Headless calls that found no page and freed after `synchronizeRCU()`.
  public var synchronousFrees = 0
  /// Pages held now (arrays in use plus the cache).
  public var pagesHeld = 0
  /// Nanoseconds the worker spent freeing objects after their grace
  /// periods: walking the arrays and the list and handing every object to
  /// the slab (for benchmarks: time per freed object, arrays against list).
  public var freeNanoseconds = 0

  /// All counters zero.
  public init() {}

  init(
    arrayPagesAllocated: Int, peakArrayPages: Int, listFallbacks: Int, nolockFailures: Int,
    objectsQueued: Int, objectsFreed: Int, synchronousFrees: Int, pagesHeld: Int,
    freeNanoseconds: Int
  ) {
    self.arrayPagesAllocated = arrayPagesAllocated
    self.peakArrayPages = peakArrayPages
    self.listFallbacks = listFallbacks
    self.nolockFailures = nolockFailures
    self.objectsQueued = objectsQueued
    self.objectsFreed = objectsFreed
    self.synchronousFrees = synchronousFrees
    self.pagesHeld = pagesHeld
    self.freeNanoseconds = freeNanoseconds
  }
}

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

  /// A `kvfree_rcu()` over `slab`, taking array pages from `pages` as
  /// `design` says. `cpus`: per-CPU states (default: one per processor
  /// online); `cacheLimit`: pages each keeps for reuse (the kernel's
  /// `rcu_min_cached_objs`); `drainDelayMicroseconds`: how long the worker
  /// lets objects gather before it detaches them; `beforeFree`: called with
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
  }

  deinit {
    core.barrier()
    core.stop()
    worker.join()
    core.shrink()
  }

  /// The design this instance uses.
  public var design: KvfreeDesign { core.design }

  /// `kvfree_rcu(ptr, rhf)`: frees `object` (from this instance's slab)
  /// after a grace period. Never sleeps: callable under a raw spin lock, in
  /// a read-side section, in an interrupt-like context. `head` must lie
  /// inside `object`; it is used only when no array page is at hand.
  public func kvfreeRCU(_ object: UnsafeMutableRawPointer, head: UnsafeMutablePointer<RCUHead>) {
    precondition(
      UnsafeMutableRawPointer(head) >= object, "kvfreeRCU: the head must lie inside the object")
    let krcp = core.thisCPU()
    krcp.lock.lock()
    if !core.addToBulk(krcp, object) {
      head.pointee.object = object
      head.pointee.next = krcp.list
      krcp.list = head
      core.counters.listFallbacks.add(1, ordering: .relaxed)
    }
    krcp.lock.unlock()
    core.counters.objectsQueued.add(1, ordering: .relaxed)
    core.schedule()
  }

  /// `kvfree_rcu(ptr)` (headless): frees `object` after a grace period.
  /// May sleep (`mightSleep()`): when no array page can be had, even by a
  /// sleeping allocation (not made in the `.deferred` design), it waits for
  /// a grace period with `synchronizeRCU()` and frees `object` at once.
  public func kvfreeRCU(_ object: UnsafeMutableRawPointer) {
    Checked.mightSleep()
    core.counters.objectsQueued.add(1, ordering: .relaxed)
    var krcp = core.thisCPU()
    krcp.lock.lock()
    var queued = core.addToBulk(krcp, object)
    krcp.lock.unlock()
    if !queued && core.design != .deferred, let page = core.allocateSleeping() {
      krcp = core.thisCPU()
      krcp.lock.lock()
      let spare = core.addToBulk(krcp, object, fresh: page)
      krcp.lock.unlock()
      if let spare { core.release(spare) }
      queued = true
    }
    if queued {
      core.schedule()
      return
    }
    synchronizeRCU()
    core.free(object)
    core.counters.synchronousFrees.add(1, ordering: .relaxed)
    core.counters.objectsFreed.add(1, ordering: .relaxed)
  }

  /// `kvfree_rcu_barrier()`: waits until every object queued before the
  /// call has been freed. May sleep.
  public func barrier() { core.barrier() }

  /// Gives every cached page back to the page allocator (the kernel's
  /// shrinker); returns how many.
  @discardableResult
  public func shrink() -> Int { core.shrink() }

  /// The counters now.
  public var statistics: KvfreeStatistics { core.counters.snapshot() }
}

/// One CPU's queue (the kernel's `struct kfree_rcu_cpu`).
///
/// Invariants (every field is guarded by `lock`):
/// - `bulk` holds the arrays being filled: each earlier one is full, the
///   last one has room or is full; a page's first word counts its records;
/// - `list` is the list fallback, threaded through `RCUHead.next`;
/// - `cache` holds at most the core's `cacheLimit` empty pages;
/// - nothing here allocates under `lock` except `bulk` growing past its
///   reserved capacity, and the page allocation the design makes.
final class KrcCPU: @unchecked Sendable {
  /// `&krcp->lock`: one class for every CPU's lock.
  let lock = Checked.RawSpinLock(name: "&krcp->lock", key: LockClassKey("&krcp->lock"))
  var bulk: [Page] = []
  var list: UnsafeMutablePointer<RCUHead>?
  var cache: [Page] = []

  init(cacheLimit: Int) {
    bulk.reserveCapacity(8)
    cache.reserveCapacity(cacheLimit)
  }
}

/// The counters, updated without a lock.
final class KvfreeCounters: Sendable {
  let arrayPagesAllocated = Atomic<Int>(0)
  let peakArrayPages = Atomic<Int>(0)
  let listFallbacks = Atomic<Int>(0)
  let nolockFailures = Atomic<Int>(0)
  let objectsQueued = Atomic<Int>(0)
  let objectsFreed = Atomic<Int>(0)
  let synchronousFrees = Atomic<Int>(0)
  let pagesHeld = Atomic<Int>(0)
  let freeNanoseconds = Atomic<Int>(0)

  /// One more page held; raises the peak.
  func pageTaken() {
    let now = pagesHeld.add(1, ordering: .relaxed).newValue
    var peak = peakArrayPages.load(ordering: .relaxed)
    while now > peak {
      let (done, seen) = peakArrayPages.compareExchange(
        expected: peak, desired: now, ordering: .relaxed)
      if done { break }
      peak = seen
    }
  }

  func snapshot() -> KvfreeStatistics {
    KvfreeStatistics(
      arrayPagesAllocated: arrayPagesAllocated.load(ordering: .relaxed),
      peakArrayPages: peakArrayPages.load(ordering: .relaxed),
      listFallbacks: listFallbacks.load(ordering: .relaxed),
      nolockFailures: nolockFailures.load(ordering: .relaxed),
      objectsQueued: objectsQueued.load(ordering: .relaxed),
      objectsFreed: objectsFreed.load(ordering: .relaxed),
      synchronousFrees: synchronousFrees.load(ordering: .relaxed),
      pagesHeld: pagesHeld.load(ordering: .relaxed),
      freeNanoseconds: freeNanoseconds.load(ordering: .relaxed))
  }
}

/// What the worker detached from one CPU.
private struct Detached {
  var cpu: KrcCPU
  var bulk: [Page]
  var list: UnsafeMutablePointer<RCUHead>?
}

/// The state `KvfreeRCU` and its worker share.
///
/// Invariants:
/// - `scheduled` is true from the `schedule()` that posted `wake` until the
///   worker starts the pass it causes; the worker clears it before it takes
///   the barrier waiters and detaches, so an object queued after the detach
///   schedules another pass;
/// - passes run one at a time on the worker, each detach -> grace period ->
///   free, so a waiter taken at the start of a pass is woken after every
///   object queued before it was freed;
/// - `waiters` is guarded by `waitersLock`.
final class KvfreeCore: @unchecked Sendable {
  let slab: SlabAllocator
  let pages: PageAllocator
  let design: KvfreeDesign
  let cpus: [KrcCPU]
  let cacheLimit: Int
  let drainDelay: UInt32
  let beforeFree: (@Sendable (UnsafeMutableRawPointer) -> Void)?
  let counters = KvfreeCounters()

  /// Records per array page: the page less its count word.
  static let capacity = (PageAllocator.pageSize - MemoryLayout<Int>.size) / MemoryLayout<Int>.size

  private let wake = Semaphore()
  private let scheduled = Atomic<Bool>(false)
  private let refillRequested = Atomic<Bool>(false)
  private let stopping = Atomic<Bool>(false)
  private let waitersLock = Checked.SpinLock(
    name: "kvfree_rcu_barrier_lock", key: LockClassKey("kvfree_rcu_barrier_lock"))
  private var waiters: [Semaphore] = []

  init(
    slab: SlabAllocator, pages: PageAllocator, design: KvfreeDesign, cpus: Int, cacheLimit: Int,
    drainDelay: UInt32, beforeFree: (@Sendable (UnsafeMutableRawPointer) -> Void)?
  ) {
    self.slab = slab
    self.pages = pages
    self.design = design
    self.cpus = (0..<max(1, cpus)).map { _ in KrcCPU(cacheLimit: cacheLimit) }
    self.cacheLimit = cacheLimit
    self.drainDelay = drainDelay
    self.beforeFree = beforeFree
  }

  /// The calling thread's CPU's queue (any queue is correct: each has its
  /// own lock; the CPU only spreads the contention).
  func thisCPU() -> KrcCPU { cpus[Int(rlc_rcu_current_cpu()) % cpus.count] }

  // MARK: Under &krcp->lock

  /// Adds `object` to `krcp`'s last array, starting a new array from the
  /// cache or from the design's non-sleeping allocation when it is full.
  /// Returns false when no page could be had. `krcp.lock` is held.
  func addToBulk(_ krcp: KrcCPU, _ object: UnsafeMutableRawPointer) -> Bool {
    if let last = krcp.bulk.last, Self.count(last) < Self.capacity {
      Self.append(object, to: last)
      return true
    }
    guard let page = cachedPage(krcp) ?? allocateAtomic() else { return false }
    Self.setCount(page, 0)
    krcp.bulk.append(page)
    Self.append(object, to: page)
    return true
  }

  /// Adds `object` with `fresh` (a page allocated outside the lock) at
  /// hand: used only if the last array is full. Returns the page when it
  /// was not used and the cache is full (the caller frees it, unlocked).
  func addToBulk(_ krcp: KrcCPU, _ object: UnsafeMutableRawPointer, fresh: Page) -> Page? {
    if let last = krcp.bulk.last, Self.count(last) < Self.capacity {
      Self.append(object, to: last)
      if krcp.cache.count < cacheLimit {
        krcp.cache.append(fresh)
        return nil
      }
      return fresh
    }
    Self.setCount(fresh, 0)
    krcp.bulk.append(fresh)
    Self.append(object, to: fresh)
    return nil
  }

  private func cachedPage(_ krcp: KrcCPU) -> Page? {
    let page = krcp.cache.popLast()
    if design == .deferred && krcp.cache.isEmpty { requestRefill() }
    return page
  }

  /// The design's allocation in the caller's context, `&krcp->lock` held.
  private func allocateAtomic() -> Page? {
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
      requestRefill()
      return nil
    }
    if page != nil {
      counters.arrayPagesAllocated.add(1, ordering: .relaxed)
      counters.pageTaken()
    }
    return page
  }

  // MARK: Unlocked

  /// A page by a sleeping allocation (no lock held).
  func allocateSleeping() -> Page? {
    guard let page = pages.allocPages(gfp: .kernel) else { return nil }
    counters.arrayPagesAllocated.add(1, ordering: .relaxed)
    counters.pageTaken()
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

  private func requestRefill() {
    if !refillRequested.exchange(true, ordering: .relaxed) { schedule() }
  }

  /// Makes the worker run a pass soon.
  func schedule() {
    if !scheduled.exchange(true, ordering: .acquiringAndReleasing) { wake.post() }
  }

  /// Waits until every object queued before the call has been freed.
  func barrier() {
    Checked.mightSleep()
    let done = Semaphore()
    waitersLock.lock()
    waiters.append(done)
    waitersLock.unlock()
    scheduled.store(true, ordering: .releasing)
    wake.post()
    done.wait()
  }

  /// Gives every cached page back; returns how many.
  @discardableResult
  func shrink() -> Int {
    var freed = 0
    for krcp in cpus {
      krcp.lock.lock()
      let cached = krcp.cache
      krcp.cache.removeAll(keepingCapacity: true)
      krcp.lock.unlock()
      for page in cached { release(page) }
      freed += cached.count
    }
    return freed
  }

  /// Ends the worker after its current pass.
  func stop() {
    stopping.store(true, ordering: .releasing)
    wake.post()
  }

  // MARK: The worker

  func runWorker() {
    while true {
      wake.wait()
      if stopping.load(ordering: .acquiring) { return }
      if drainDelay > 0 { usleep(drainDelay) }
      pass()
    }
  }

  /// One pass: refill (deferred design), detach, wait a grace period, free,
  /// recycle the pages, wake the barrier waiters taken at its start.
  private func pass() {
    scheduled.store(false, ordering: .releasing)
    waitersLock.lock()
    let woken = waiters
    waiters.removeAll()
    waitersLock.unlock()
    if refillRequested.exchange(false, ordering: .relaxed) { refill() }

    var detached: [Detached] = []
    for krcp in cpus {
      var fresh: [Page] = []
      fresh.reserveCapacity(8)
      krcp.lock.lock()
      swap(&fresh, &krcp.bulk)
      let list = krcp.list
      krcp.list = nil
      krcp.lock.unlock()
      if !fresh.isEmpty || list != nil {
        detached.append(Detached(cpu: krcp, bulk: fresh, list: list))
      }
    }
    if !detached.isEmpty {
      synchronizeRCU()
      for d in detached { freeDetached(d) }
    }
    for waiter in woken { waiter.post() }
  }

  private func freeDetached(_ d: Detached) {
    let started = monotonicNanoseconds()
    var freed = 0
    for page in d.bulk {
      let n = Self.count(page)
      let records = Self.records(page)
      var objects: [UnsafeMutableRawPointer] = []
      objects.reserveCapacity(n)
      for i in 0..<n { objects.append(records[i]!) }
      if let beforeFree { for object in objects { beforeFree(object) } }
      slab.kfreeBulk(objects)
      freed += n
    }
    var head = d.list
    while let h = head {
      head = h.pointee.next
      free(h.pointee.object!)
      freed += 1
    }
    counters.objectsFreed.add(freed, ordering: .relaxed)
    counters.freeNanoseconds.add(monotonicNanoseconds() - started, ordering: .relaxed)
    // The emptied pages go back to their CPU's cache, the rest to the allocator.
    var spare: [Page] = []
    d.cpu.lock.lock()
    for page in d.bulk {
      if d.cpu.cache.count < cacheLimit { d.cpu.cache.append(page) } else { spare.append(page) }
    }
    d.cpu.lock.unlock()
    for page in spare { release(page) }
  }

  /// Fills every CPU's cache with sleeping allocations (deferred design).
  private func refill() {
    for krcp in cpus {
      krcp.lock.lock()
      let missing = cacheLimit - krcp.cache.count
      krcp.lock.unlock()
      guard missing > 0 else { continue }
      var got: [Page] = []
      for _ in 0..<missing {
        guard let page = allocateSleeping() else { break }
        got.append(page)
      }
      krcp.lock.lock()
      while let page = got.last, krcp.cache.count < cacheLimit {
        krcp.cache.append(page)
        got.removeLast()
      }
      krcp.lock.unlock()
      for page in got { release(page) }
    }
  }

  // MARK: Array pages

  private static func count(_ page: Page) -> Int { page.address.load(as: Int.self) }

  private static func setCount(_ page: Page, _ n: Int) {
    page.address.storeBytes(of: n, as: Int.self)
  }

  private static func records(_ page: Page) -> UnsafeMutablePointer<UnsafeMutableRawPointer?> {
    (page.address + MemoryLayout<Int>.size).bindMemory(
      to: UnsafeMutableRawPointer?.self, capacity: capacity)
  }

  private static func append(_ object: UnsafeMutableRawPointer, to page: Page) {
    let n = count(page)
    records(page)[n] = object
    setCount(page, n + 1)
  }
}

/// The monotonic clock in nanoseconds.
private func monotonicNanoseconds() -> Int {
  var ts = timespec()
  clock_gettime(CLOCK_MONOTONIC, &ts)
  return ts.tv_sec * 1_000_000_000 + ts.tv_nsec
}
