import Lockdep
import Synchronization

/// What a page of the arena is to the slab allocator (one entry per page
/// frame; SLUB keeps these fields in `struct slab`, which overlays `struct
/// page`).
///
/// Invariants:
/// - `kind` is `notSlab`, a size-class index (`0..<classCount`), or
///   `largeBase + order` for a whole-page kmalloc block. It is set before
///   the page's first object is handed out and reset only after its last
///   one came back, so `kfree` may read it without a lock: the object it
///   frees keeps the page's kind fixed.
/// - For a size-class page, every other field is read and written only
///   under that class's `lock`: `freelist` threads the free objects through
///   their first word (nil ends it), `inUse` counts the others (handed out,
///   or in a per-CPU cache), and the page is on its class's partial list
///   (`next`/`prev`, -1 ends it) exactly when `onPartial`, which is exactly
///   when it has a free object and at least one in use.
struct SlabPageInfo {
  static let notSlab: Int16 = -1
  static let largeBase: Int16 = 100

  var inUse: Int32 = 0
  var onPartial = false
  var next: Int32 = -1
  var prev: Int32 = -1
  var freelist: UnsafeMutableRawPointer? = nil
}

/// One size class (SLUB's `kmem_cache` with its one `kmem_cache_node`):
/// the pages cut into objects of `size` bytes, with a free object left,
/// under `lock`.
final class SlabClass: @unchecked Sendable {
  /// `n->list_lock`: a `spinlock_t`, one lock class for every size class
  /// (two are never held at once).
  let lock = Checked.SpinLock(name: "&n->list_lock", key: LockClassKey("&n->list_lock"))
  /// Bytes per object: a power of two, so objects never straddle a page.
  let size: Int
  /// First page of the partial list (-1: empty). Under `lock`.
  var partialHead: Int32 = -1

  init(size: Int) { self.size = size }
}

/// One CPU's cache of free objects of one size class (SLUB's `struct
/// kmem_cache_cpu`), under `lock`, taken only with `tryLock()` on the
/// kmalloc and kfree paths: a caller that finds it busy uses the size class
/// directly. Never held together with a size-class lock (objects move
/// between the two through a local buffer), so the two never nest.
///
/// Invariant, under `lock`: `objects[0..<count]` are free objects of the
/// class, each counted in its page's `inUse` and on no freelist.
final class CPUObjectCache: @unchecked Sendable {
  /// `s->cpu_slab->lock`: a `local_lock_t`.
  let lock = Checked.LocalLock(
    name: "&s->cpu_slab->lock", key: LockClassKey("&s->cpu_slab->lock"))
  var count = 0
  let objects: UnsafeMutablePointer<UnsafeMutableRawPointer>

  init(capacity: Int) { objects = .allocate(capacity: capacity) }
  deinit { objects.deallocate() }
}

/// `kmalloc()` and `kfree()` over a `PageAllocator`: power-of-two size
/// classes of 8 to 2,048 bytes, cut from order-0 pages, with per-CPU caches
/// of free objects; bigger requests get whole blocks of pages.
///
/// Lock order: `&s->cpu_slab->lock` and `&n->list_lock` are never held
/// together, and the page allocator is called with neither held (a new slab
/// page is allocated before its class lock is taken, an empty one freed
/// after it is dropped), so `.kernel` allocations may sleep there.
public final class SlabAllocator: Sendable {
  /// The object sizes of the size classes.
  public static let sizeClasses = [8, 16, 32, 64, 128, 256, 512, 1024, 2048]
  /// Objects a per-CPU cache holds at most.
  static let cacheCapacity = 32
  /// Objects moved between a per-CPU cache and its size class at once.
  static let cacheBatch = 16

  /// The page allocator the slabs come from.
  public let pages: PageAllocator
  private let classes: [SlabClass]
  /// `cpus * classes.count` caches, CPU-major.
  private let caches: [CPUObjectCache]
  private let table: SlabPageTable
  private let inUseCount = Atomic<Int>(0)

  /// A slab allocator taking its pages from `pages`.
  public init(pages: PageAllocator) {
    self.pages = pages
    classes = Self.sizeClasses.map { SlabClass(size: $0) }
    caches = (0..<(pages.cpus * Self.sizeClasses.count)).map { _ in
      CPUObjectCache(capacity: Self.cacheCapacity)
    }
    table = SlabPageTable(pageCount: pages.totalPages)
  }

  /// Objects handed out by `kmalloc` and not yet freed.
  public var objectsInUse: Int { inUseCount.load(ordering: .relaxed) }

  // MARK: kmalloc

  /// Allocates `size` bytes (`kmalloc()`), aligned to the size class (to a
  /// page above 2,048 bytes); nil when no memory is left. A zero size gets
  /// the smallest object.
  ///
  /// With `.directReclaim` (`.kernel`), checks first that the caller may
  /// sleep. With `.noLocks`, only trylocks are taken and a new slab page can
  /// only come from a per-CPU page list.
  public func kmalloc(_ size: Int, gfp: GFP = .kernel) -> UnsafeMutableRawPointer? {
    precondition(size >= 0, "kmalloc: negative size")
    if gfp.allowsBlocking { Checked.mightSleep() }
    guard let index = Self.sizeClasses.firstIndex(where: { $0 >= size }) else {
      return kmallocLarge(size, gfp: gfp)
    }
    let cache = caches[currentCPU(modulo: pages.cpus) * classes.count + index]
    if cache.lock.tryLock() {
      var object: UnsafeMutableRawPointer? = nil
      if cache.count > 0 {
        cache.count -= 1
        object = cache.objects[cache.count]
      }
      cache.lock.unlock()
      if let object { return handOut(object) }
    }
    return kmallocSlow(index, cache: cache, gfp: gfp)
  }

  /// The per-CPU cache was empty or busy: take a batch from the size class
  /// (a new slab page when it has no free object), keep one, and put the
  /// rest in the cache.
  private func kmallocSlow(_ index: Int, cache: CPUObjectCache, gfp: GFP)
    -> UnsafeMutableRawPointer?
  {
    let sizeClass = classes[index]
    if gfp.contains(.noLocks) {
      // Trylocks only, and nothing may go back to the class afterwards (that
      // would wait for its lock): one object, from a slab page that can only
      // come from a per-CPU page list (a trylock too), so the page allocator
      // may be called with the class lock held.
      guard sizeClass.lock.tryLock() else { return nil }
      var object = UnsafeMutableRawPointer(bitPattern: 1)!
      var taken = takeObjects(sizeClass, into: &object, limit: 1)
      if taken == 0, let page = pages.allocPages(order: 0, gfp: gfp) {
        installSlab(page, sizeClass, index)
        taken = takeObjects(sizeClass, into: &object, limit: 1)
      }
      sizeClass.lock.unlock()
      return taken == 1 ? handOut(object) : nil
    }
    return withUnsafeTemporaryAllocation(
      of: UnsafeMutableRawPointer.self, capacity: Self.cacheBatch
    ) { buffer -> UnsafeMutableRawPointer? in
      let batch = buffer.baseAddress!
      var taken = sizeClass.lock.withLock {
        takeObjects(sizeClass, into: batch, limit: Self.cacheBatch)
      }
      if taken == 0 {
        // A new slab (`new_slab()`), its page allocated with no lock held.
        guard let page = pages.allocPages(order: 0, gfp: gfp) else { return nil }
        taken = sizeClass.lock.withLock {
          installSlab(page, sizeClass, index)
          return takeObjects(sizeClass, into: batch, limit: Self.cacheBatch)
        }
      }
      if taken > 1 { stash(batch + 1, count: taken - 1, in: cache, index) }
      return handOut(batch[0])
    }
  }

  /// Makes a fresh page a slab of the class: its objects threaded into a
  /// freelist, the page on the partial list. Caller holds `sizeClass.lock`
  /// and takes an object before dropping it (a partial slab has one in use).
  private func installSlab(_ page: Page, _ sizeClass: SlabClass, _ index: Int) {
    let count = PageAllocator.pageSize / sizeClass.size
    for i in 0..<count {
      let next: UnsafeMutableRawPointer? =
        i + 1 < count ? page.address + (i + 1) * sizeClass.size : nil
      (page.address + i * sizeClass.size).storeBytes(of: next, as: UnsafeMutableRawPointer?.self)
    }
    let pfn = pages.frameNumber(of: page.address)
    table.pages[pfn] = SlabPageInfo(freelist: page.address)
    table.setKind(pfn, Int16(index))
    addPartial(sizeClass, pfn)
  }

  /// Takes up to `limit` free objects off the class's partial slabs into
  /// `buffer`; returns how many. Caller holds `sizeClass.lock`.
  private func takeObjects(
    _ sizeClass: SlabClass, into buffer: UnsafeMutablePointer<UnsafeMutableRawPointer>, limit: Int
  ) -> Int {
    var taken = 0
    while taken < limit && sizeClass.partialHead >= 0 {
      let pfn = Int(sizeClass.partialHead)
      while taken < limit, let object = table.pages[pfn].freelist {
        table.pages[pfn].freelist = object.load(as: UnsafeMutableRawPointer?.self)
        table.pages[pfn].inUse += 1
        buffer[taken] = object
        taken += 1
      }
      // A slab with no free object leaves the partial list (it is full).
      if table.pages[pfn].freelist == nil { removePartial(sizeClass, pfn) }
    }
    return taken
  }

  /// Puts objects taken from a size class into the per-CPU cache, if it is
  /// free now and has room; what does not fit goes back to the class.
  private func stash(
    _ objects: UnsafeMutablePointer<UnsafeMutableRawPointer>, count: Int, in cache: CPUObjectCache,
    _ index: Int
  ) {
    var stored = 0
    if cache.lock.tryLock() {
      stored = min(count, Self.cacheCapacity - cache.count)
      (cache.objects + cache.count).update(from: objects, count: stored)
      cache.count += stored
      cache.lock.unlock()
    }
    if stored < count { returnObjects(objects + stored, count: count - stored, index) }
  }

  /// `kmalloc_large()`: a block of pages of the smallest order that holds `size`.
  private func kmallocLarge(_ size: Int, gfp: GFP) -> UnsafeMutableRawPointer? {
    let pageCount = (size + PageAllocator.pageSize - 1) / PageAllocator.pageSize
    let order = pageCount <= 1 ? 0 : Int.bitWidth - (pageCount - 1).leadingZeroBitCount
    guard order <= pages.maxOrder, let page = pages.allocPages(order: order, gfp: gfp) else {
      return nil
    }
    table.setKind(pages.frameNumber(of: page.address), SlabPageInfo.largeBase + Int16(order))
    return handOut(page.address)
  }

  private func handOut(_ object: UnsafeMutableRawPointer) -> UnsafeMutableRawPointer {
    inUseCount.add(1, ordering: .relaxed)
    return object
  }

  // MARK: kfree

  /// Frees an object `kmalloc` returned (`kfree()`). Its size class comes
  /// from the page it lies in. Stops the program on a pointer that is not a
  /// `kmalloc` object.
  public func kfree(_ pointer: UnsafeMutableRawPointer) {
    let pfn = pages.frameNumber(of: pointer)
    let kind = table.kind(pfn)
    precondition(kind != SlabPageInfo.notSlab, "kfree: \(pointer) is not a kmalloc object")
    inUseCount.subtract(1, ordering: .relaxed)
    if kind >= SlabPageInfo.largeBase {
      precondition(
        UInt(bitPattern: pointer) % UInt(PageAllocator.pageSize) == 0,
        "kfree: \(pointer) is inside a large kmalloc block")
      table.setKind(pfn, SlabPageInfo.notSlab)
      pages.freePages(Page(address: pointer), order: Int(kind - SlabPageInfo.largeBase))
      return
    }
    let index = Int(kind)
    precondition(
      UInt(bitPattern: pointer) % UInt(classes[index].size) == 0,
      "kfree: \(pointer) is inside a kmalloc object")
    let cache = caches[currentCPU(modulo: pages.cpus) * classes.count + index]
    guard cache.lock.tryLock() else {
      var object = pointer
      returnObjects(&object, count: 1, index)
      return
    }
    if cache.count < Self.cacheCapacity {
      cache.objects[cache.count] = pointer
      cache.count += 1
      cache.lock.unlock()
      return
    }
    // A full cache gives its oldest batch back to the class (`__slab_free()`
    // per object), after its lock is dropped.
    withUnsafeTemporaryAllocation(of: UnsafeMutableRawPointer.self, capacity: Self.cacheBatch) {
      buffer in
      let batch = buffer.baseAddress!
      batch.update(from: cache.objects, count: Self.cacheBatch)
      cache.objects.update(
        from: cache.objects + Self.cacheBatch, count: cache.count - Self.cacheBatch)
      cache.count -= Self.cacheBatch
      cache.objects[cache.count] = pointer
      cache.count += 1
      cache.lock.unlock()
      returnObjects(batch, count: Self.cacheBatch, index)
    }
  }

  /// Frees every pointer of `pointers` (`kfree_bulk()`).
  public func kfreeBulk(_ pointers: [UnsafeMutableRawPointer]) {
    for pointer in pointers { kfree(pointer) }
  }

  /// Gives every object in every per-CPU cache back to its slab, and every
  /// slab left empty back to the page allocator (`kmem_cache_shrink()`).
  /// Once every object is freed, the slabs then hold no page.
  public func shrink() {
    withUnsafeTemporaryAllocation(of: UnsafeMutableRawPointer.self, capacity: Self.cacheCapacity) {
      buffer in
      for (i, cache) in caches.enumerated() {
        let count: Int = cache.lock.withLock {
          buffer.baseAddress!.update(from: cache.objects, count: cache.count)
          defer { cache.count = 0 }
          return cache.count
        }
        returnObjects(buffer.baseAddress!, count: count, i % classes.count)
      }
    }
  }

  /// Puts objects back on their slabs' freelists under the class lock; a
  /// slab whose last object comes back is freed to the page allocator once
  /// the lock is dropped.
  private func returnObjects(
    _ objects: UnsafeMutablePointer<UnsafeMutableRawPointer>, count: Int, _ index: Int
  ) {
    guard count > 0 else { return }
    let sizeClass = classes[index]
    withUnsafeTemporaryAllocation(of: Int.self, capacity: count) { empty in
      var emptied = 0
      sizeClass.lock.withLock {
        for i in 0..<count {
          let object = objects[i]
          let pfn = pages.frameNumber(of: object)
          object.storeBytes(of: table.pages[pfn].freelist, as: UnsafeMutableRawPointer?.self)
          table.pages[pfn].freelist = object
          table.pages[pfn].inUse -= 1
          if table.pages[pfn].inUse == 0 {
            if table.pages[pfn].onPartial { removePartial(sizeClass, pfn) }
            table.pages[pfn] = SlabPageInfo()
            table.setKind(pfn, SlabPageInfo.notSlab)
            empty[emptied] = pfn
            emptied += 1
          } else if !table.pages[pfn].onPartial {
            addPartial(sizeClass, pfn)
          }
        }
      }
      for i in 0..<emptied {
        pages.freePages(Page(bits: pages.base + UInt(empty[i] * PageAllocator.pageSize)))
      }
    }
  }

  // MARK: Partial lists

  /// Caller holds `sizeClass.lock`.
  private func addPartial(_ sizeClass: SlabClass, _ pfn: Int) {
    let head = sizeClass.partialHead
    table.pages[pfn].onPartial = true
    table.pages[pfn].prev = -1
    table.pages[pfn].next = head
    if head >= 0 { table.pages[Int(head)].prev = Int32(pfn) }
    sizeClass.partialHead = Int32(pfn)
  }

  /// Caller holds `sizeClass.lock`.
  private func removePartial(_ sizeClass: SlabClass, _ pfn: Int) {
    let info = table.pages[pfn]
    if info.prev >= 0 {
      table.pages[Int(info.prev)].next = info.next
    } else {
      sizeClass.partialHead = info.next
    }
    if info.next >= 0 { table.pages[Int(info.next)].prev = info.prev }
    table.pages[pfn].onPartial = false
    table.pages[pfn].next = -1
    table.pages[pfn].prev = -1
  }
}

/// The page-to-slab table: one `SlabPageInfo` per page of the arena; see
/// its invariants for which lock guards which field. A page's kind (its
/// size class, a large block's order, or not a slab) is kept apart, as an
/// atomic: `kfree` reads it with no lock held, while the class lock's
/// holder changes the page's other fields.
final class SlabPageTable: @unchecked Sendable {
  let pages: UnsafeMutablePointer<SlabPageInfo>
  private let kinds: UnsafeMutablePointer<Atomic<Int16>>
  private let pageCount: Int

  init(pageCount: Int) {
    self.pageCount = pageCount
    pages = .allocate(capacity: pageCount)
    pages.initialize(repeating: SlabPageInfo(), count: pageCount)
    kinds = .allocate(capacity: pageCount)
    for i in 0..<pageCount { (kinds + i).initialize(to: Atomic(SlabPageInfo.notSlab)) }
  }

  deinit {
    pages.deallocate()
    kinds.deinitialize(count: pageCount)
    kinds.deallocate()
  }

  /// The kind of page `pfn`.
  func kind(_ pfn: Int) -> Int16 { kinds[pfn].load(ordering: .acquiring) }

  /// Sets the kind of page `pfn`.
  func setKind(_ pfn: Int, _ kind: Int16) { kinds[pfn].store(kind, ordering: .releasing) }
}
