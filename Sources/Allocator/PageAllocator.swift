import Lockdep
import Synchronization

#if canImport(Glibc)
  import Glibc
#endif

/// A buddy page allocator over an `mmap`'d arena, built from the project's
/// validated locks so that the lock validator sees what it does (the
/// allocation and free paths of mm/page_alloc.c, one zone).
///
/// Order-0 pages go through per-CPU lists (`&pcp->lock`, always taken with
/// a trylock on these paths); blocks of higher order, refills and spills
/// go through the zone's buddy lists (`&zone->lock`, a `spinlock_t` taken
/// with interrupts off). Lock order, everywhere: `&pcp->lock` before
/// `&zone->lock`; the zone lock is never held while taking a per-CPU lock.
///
/// Because `&zone->lock` is a `spinlock_t`, an allocation that reaches the
/// zone under a raw spin lock is an invalid wait context: the validator
/// reports it, as CONFIG_PROVE_RAW_LOCK_NESTING does for kvfree_rcu()
/// allocating under `krcp->lock`. `allocPagesNoLock()` is the path that
/// is valid anywhere: it only ever tries locks.
public final class PageAllocator: Sendable {
  /// Bytes in a page.
  public static let pageSize = 4096
  /// The largest order any allocator can hand out (`MAX_PAGE_ORDER`): a
  /// block of 1,024 pages. An arena smaller than that has a smaller
  /// `maxOrder`.
  public static let maxOrder = 10

  /// The largest order this allocator can hand out: `PageAllocator.maxOrder`,
  /// or the largest block that fits in the arena.
  public var maxOrder: Int { zone.maxOrder }
  /// Pages in the arena.
  public var totalPages: Int { zone.pageCount }
  /// Per-CPU lists (CPU numbers are folded into `0..<cpus`).
  public let cpus: Int
  /// A per-CPU list holding more pages than this after a free spills a batch.
  public let pcpHigh: Int
  /// Pages moved per refill or spill.
  public let pcpBatch: Int

  /// The arena's first byte, as a bit pattern.
  let base: UInt
  let zone: Zone
  let pcps: [PerCPUPages]

  private let allocatedCount = Atomic<Int>(0)
  private let freedCount = Atomic<Int>(0)
  private let zoneLockCount = Atomic<Int>(0)
  private let refillCount = Atomic<Int>(0)
  private let nolockFailureCount = Atomic<Int>(0)
  private let failureCount = Atomic<Int>(0)
  private let perCPUCount = Atomic<Int>(0)

  /// An allocator over a new arena of `pages` pages, all free, aligned to
  /// its largest block.
  ///
  /// - Parameters:
  ///   - cpus: per-CPU lists; the calling CPU (`sched_getcpu()`) picks one
  ///     modulo this.
  ///   - pcpHigh: a per-CPU list that holds more pages than this after a
  ///     free gives `pcpBatch` back to the zone.
  ///   - pcpBatch: pages moved from the zone to an empty per-CPU list, and
  ///     back on a spill.
  public init(
    pages: Int, cpus: Int = onlineProcessorCount(), pcpHigh: Int = 64, pcpBatch: Int = 16
  ) {
    precondition(pages > 0, "an arena needs at least one page")
    precondition(cpus > 0 && pcpHigh >= 0 && pcpBatch > 0)
    zone = Zone(pageCount: pages, maxOrder: Self.maxOrder)
    // The arena starts on a boundary of its largest block, so a block of
    // order n is aligned to `pageSize << n` in address as well as in page
    // frame number (as physical memory is): map the slack, keep the
    // aligned part, unmap the rest.
    let length = pages * Self.pageSize
    let alignment = Self.pageSize << zone.maxOrder
    guard
      let mapping = mmap(
        nil, length + alignment, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0),
      mapping != MAP_FAILED
    else {
      fatalError("PageAllocator: cannot map \(length) bytes: errno \(errno)")
    }
    let start = UInt(bitPattern: mapping)
    let aligned = (start + UInt(alignment) - 1) & ~(UInt(alignment) - 1)
    if aligned > start { munmap(mapping, Int(aligned - start)) }
    let tail = Int(start + UInt(alignment) - aligned)
    if tail > 0 { munmap(UnsafeMutableRawPointer(bitPattern: aligned + UInt(length)), tail) }
    base = aligned
    self.cpus = cpus
    self.pcpHigh = pcpHigh
    self.pcpBatch = pcpBatch
    let capacity = max(pcpHigh + 1, pcpBatch)
    pcps = (0..<cpus).map { _ in PerCPUPages(capacity: capacity) }
  }

  deinit {
    munmap(UnsafeMutableRawPointer(bitPattern: base), zone.pageCount * Self.pageSize)
  }

  // MARK: Allocation

  /// Allocates a block of `1 << order` pages (`alloc_pages()`); nil when
  /// none is free (or `order` is above `maxOrder`), never a crash.
  ///
  /// With `.directReclaim` (`.kernel`), first checks that the caller may
  /// sleep (`mightSleep()`), and on exhaustion drains every per-CPU list
  /// ("direct reclaim") and tries once more. Order 0 comes from this CPU's
  /// list, refilled from the zone with `pcpBatch` pages when empty; when
  /// its trylock fails, from the zone directly. Higher orders come from
  /// the zone. With `.noLocks`, only this CPU's list is used (order 0 only).
  public func allocPages(order: Int = 0, gfp: GFP) -> Page? {
    if gfp.allowsBlocking { Checked.mightSleep() }
    guard order >= 0 && order <= zone.maxOrder else { return failed() }
    if let pfn = rmqueue(order: order, gfp: gfp) { return handOut(pfn, order: order) }
    if gfp.allowsBlocking && !gfp.contains(.noLocks) {
      drainPerCPULists()
      if let pfn = rmqueue(order: order, gfp: gfp) { return handOut(pfn, order: order) }
    }
    return failed()
  }

  /// `alloc_pages_nolock()`: never waits for a lock, so it is valid in any
  /// context, an NMI (`withNMI {}`) or under a raw spin lock included. Both
  /// this CPU's list and the zone are taken with `tryLock()`; when the one
  /// it needs is busy or empty it returns nil (counted in `nolockFailures`)
  /// instead of waiting.
  public func allocPagesNoLock(order: Int = 0) -> Page? {
    if order >= 0 && order <= zone.maxOrder {
      if order == 0 {
        let pcp = pcps[currentCPU(modulo: cpus)]
        if pcp.lock.tryLock() {
          var pfn = pcp.pop()
          if pfn == nil {
            // Refill with the zone trylocked; a busy zone leaves pfn nil.
            if let refilled = withZoneTryLock({ refill(pcp) }), refilled { pfn = pcp.pop() }
          }
          if pfn != nil { perCPUCount.subtract(1, ordering: .relaxed) }
          pcp.lock.unlock()
          if let pfn { return handOut(markAllocated(pfn), order: 0) }
          nolockFailureCount.add(1, ordering: .relaxed)
          return nil
        }
      }
      if let pfn = withZoneTryLock({ zone.takeBlock(order: order) }) ?? nil {
        return handOut(pfn, order: order)
      }
    }
    nolockFailureCount.add(1, ordering: .relaxed)
    return nil
  }

  /// One attempt at a block (`rmqueue()`): the per-CPU list for order 0,
  /// else (or when its trylock fails) the zone; nil when there is none.
  private func rmqueue(order: Int, gfp: GFP) -> Int? {
    if order == 0 {
      let pcp = pcps[currentCPU(modulo: cpus)]
      if pcp.lock.tryLock() {
        defer { pcp.lock.unlock() }
        if pcp.count == 0 && !gfp.contains(.noLocks) {
          _ = withZoneLock { refill(pcp) }
        }
        guard let pfn = pcp.pop() else { return nil }
        perCPUCount.subtract(1, ordering: .relaxed)
        return markAllocated(pfn)
      }
    }
    if gfp.contains(.noLocks) { return nil }
    return withZoneLock { zone.takeBlock(order: order) }
  }

  /// Moves up to `pcpBatch` order-0 pages from the zone onto `pcp`
  /// (`rmqueue_bulk()`); returns whether any moved. Caller holds `pcp.lock`
  /// and `zone.lock`.
  private func refill(_ pcp: PerCPUPages) -> Bool {
    var moved = 0
    while moved < pcpBatch && pcp.count < pcp.capacity,
      let pfn = zone.takeBlock(order: 0)
    {
      zone.setState(pfn, .perCPU)
      pcp.push(pfn)
      moved += 1
    }
    guard moved > 0 else { return false }
    perCPUCount.add(moved, ordering: .relaxed)
    refillCount.add(1, ordering: .relaxed)
    return true
  }

  /// Marks a page taken off a per-CPU list as handed out. Caller holds the
  /// list's lock, or took the page off it under that lock.
  private func markAllocated(_ pfn: Int) -> Int {
    zone.setState(pfn, .allocated)
    zone.frames[pfn].order = 0
    return pfn
  }

  private func handOut(_ pfn: Int, order: Int) -> Page {
    allocatedCount.add(1 << order, ordering: .relaxed)
    return Page(bits: base + UInt(pfn * Self.pageSize))
  }

  private func failed() -> Page? {
    failureCount.add(1, ordering: .relaxed)
    return nil
  }

  // MARK: Freeing

  /// Frees a block that `allocPages` or `allocPagesNoLock` returned, at the
  /// order it was allocated with (`__free_pages()`). Stops the program on a
  /// page that is not an allocated block of that order (a double free, a
  /// wrong order, an address from elsewhere), as the kernel's `bad_page()`.
  ///
  /// Order 0 goes on this CPU's list (to the zone when its trylock fails);
  /// a list that then holds more than `pcpHigh` gives its `pcpBatch`
  /// coldest pages back to the zone. Higher orders go to the zone, merging
  /// with free buddies.
  public func freePages(_ page: Page, order: Int = 0) {
    let pfn = frameNumber(of: page.address)
    precondition(
      order >= 0 && order <= zone.maxOrder && pfn & ((1 << order) - 1) == 0
        && page.bits == base + UInt(pfn * Self.pageSize),
      "PageAllocator: bad page \(page.address) for order \(order)")
    let state = zone.state(pfn)
    let frame = zone.frames[pfn]
    precondition(
      state == .allocated && Int(frame.order) == order,
      "PageAllocator: bad page \(page.address): freeing order \(order), "
        + "page is \(state) of order \(frame.order)")
    freedCount.add(1 << order, ordering: .relaxed)
    if order == 0 {
      let pcp = pcps[currentCPU(modulo: cpus)]
      if pcp.lock.tryLock() {
        defer { pcp.lock.unlock() }
        zone.setState(pfn, .perCPU)
        pcp.push(pfn)
        perCPUCount.add(1, ordering: .relaxed)
        if pcp.count > pcpHigh { spill(pcp, pcpBatch) }
        return
      }
    }
    zone.setState(pfn, .tail)
    withZoneLock { zone.freeBlock(pfn, order: order) }
  }

  /// Gives up to `limit` of `pcp`'s coldest pages back to the zone
  /// (`free_pcppages_bulk()`). Caller holds `pcp.lock`.
  private func spill(_ pcp: PerCPUPages, _ limit: Int) {
    let moved = min(limit, pcp.count)
    guard moved > 0 else { return }
    withZoneLock {
      pcp.removeOldest(moved) { pfn in
        zone.setState(pfn, .tail)
        zone.freeBlock(pfn, order: 0)
      }
    }
    perCPUCount.subtract(moved, ordering: .relaxed)
  }

  /// Returns every page on every per-CPU list to the zone
  /// (`drain_all_pages()`), waiting for each list's lock. May sleep, as the
  /// kernel's takes `pcpu_drain_mutex`: checked first (`mightSleep()`).
  public func drainPerCPULists() {
    Checked.mightSleep()
    for pcp in pcps {
      pcp.lock.withLock { spill(pcp, pcp.count) }
    }
  }

  // MARK: Locks

  /// Runs `body` under the zone lock with interrupts off
  /// (`spin_lock_irqsave(&zone->lock)`; on PREEMPT_RT, where `zone->lock`
  /// sleeps, interrupts stay on: `SpinLock.withLockIRQSave`).
  /// The acquisition is recorded at the caller's site (`rmqueue`), as the
  /// kernel's `_RET_IP_` names the function that calls `spin_lock_irqsave`.
  @inline(never)
  private func withZoneLock<R>(_ body: () -> R) -> R {
    zone.lock.withLockIRQSave(from: LockValidation.returnAddress()) {
      defer { zone.publishFreePages() }
      zoneLockCount.add(1, ordering: .relaxed)
      return body()
    }
  }

  /// Runs `body` under the zone lock if it is free now
  /// (`spin_trylock_irqsave(&zone->lock)`); nil when it is busy. Recorded
  /// at the caller's site, as `withZoneLock`.
  @inline(never)
  private func withZoneTryLock<R>(_ body: () -> R) -> R? {
    zone.lock.withTryLockIRQSave(from: LockValidation.returnAddress()) {
      defer { zone.publishFreePages() }
      zoneLockCount.add(1, ordering: .relaxed)
      return body()
    }
  }

  // MARK: Queries

  /// The allocator's counters; see `AllocatorStatistics`.
  public var statistics: AllocatorStatistics {
    let allocated = allocatedCount.load(ordering: .relaxed)
    let freed = freedCount.load(ordering: .relaxed)
    return AllocatorStatistics(
      pagesAllocated: allocated, pagesFreed: freed,
      zoneLockAcquisitions: zoneLockCount.load(ordering: .relaxed),
      pcpRefills: refillCount.load(ordering: .relaxed),
      nolockFailures: nolockFailureCount.load(ordering: .relaxed),
      allocationFailures: failureCount.load(ordering: .relaxed),
      pagesInUse: allocated - freed,
      zoneFreePages: zone.freePagesMirror.load(ordering: .relaxed),
      perCPUPages: perCPUCount.load(ordering: .relaxed),
      totalPages: zone.pageCount)
  }

  /// The number of free blocks of each order in the zone, order 0 first
  /// (`/proc/buddyinfo`). Takes the zone lock.
  public func freeBlockCounts() -> [Int] {
    withZoneLock { zone.freeBlockCounts() }
  }

  /// Whether `address` lies in the arena.
  public func contains(_ address: UnsafeRawPointer) -> Bool {
    let bits = UInt(bitPattern: address)
    return bits >= base && bits - base < UInt(zone.pageCount * Self.pageSize)
  }

  /// The page frame number of the page holding `address`, which must be in
  /// the arena.
  func frameNumber(of address: UnsafeRawPointer) -> Int {
    precondition(contains(address), "PageAllocator: \(address) is not in the arena")
    return Int((UInt(bitPattern: address) - base) / UInt(Self.pageSize))
  }
}
