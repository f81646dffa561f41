import Lockdep
import Synchronization

/// `kmalloc()` and `kfree()` over a `PageAllocator`: power-of-two size
/// classes of 8 to 2,048 bytes, cut from order-0 pages, with per-CPU caches
/// of free objects; bigger requests get whole blocks of pages.
///
/// The slab keeps its freelists out of line (`SlabPageTable`): no path
/// writes into a free object, and `kfreeBulk` reads only the pointers it is
/// given and the slab's table, never the objects' memory.
///
/// Lock order: `&s->cpu_slab->lock` and `&n->list_lock` are never held
/// together, and the page allocator is called with neither held (a new slab
/// page is allocated before its class lock is taken, an empty one freed
/// after it is dropped), so `.kernel` allocations may sleep there. The one
/// exception is `.noLocks`, which takes only trylocks.
public final class SlabAllocator: Sendable {
  /// The object sizes of the size classes.
  public static let sizeClasses = [8, 16, 32, 64, 128, 256, 512, 1024, 2048]
  /// Size classes: `sizeClasses.count` (a literal, so the hot paths fold it).
  static let classCount = 9
  /// The largest size a size class serves.
  static let largestClass = 2048
  /// Objects moved between a per-CPU cache and its size class at once.
  static let cacheBatch = 16
  /// Objects `kfreeBulk` returns under one hold of a class lock, at most.
  static let bulkChunk = 64

  /// The page allocator the slabs come from.
  public let pages: PageAllocator
  private let classes: SizeClasses
  /// `pages.cpus * classCount` caches, CPU-major.
  private let caches: CPUObjectCaches
  private let cpus: Int
  /// Objects handed out minus freed on the paths that bypass the per-CPU
  /// caches (their own counters hold the rest).
  private let uncachedInUse = Atomic<Int>(0)
  /// Checked as for PREEMPT_RT (`LockValidation.checksAsPreemptRT`): there
  /// SLUB has no lockless fast path (`USE_LOCKLESS_FAST_PATH()` is false),
  /// and every `kmalloc()` and `kfree()` takes `s->cpu_slab->lock` with
  /// `local_lock_irqsave()`, a sleeping lock on that kernel. The per-CPU
  /// caches are still only tried here; the acquisition is checked as one
  /// that waits (`CPUObjectCaches.waitingAcquisition`) before each try:
  /// before 2026-12-07 as `might_lock()`, which has no sleep check, so a
  /// warm cache's `kmalloc(.atomic)` with interrupts off was clean.
  private let cacheLockIsTakenEveryTime: Bool

  /// A slab allocator taking its pages from `pages`.
  public init(pages: PageAllocator) {
    precondition(Self.sizeClasses.count == Self.classCount && Self.largestClass == 8 << 8)
    self.pages = pages
    cpus = pages.cpus
    classes = SizeClasses(count: Self.classCount, pageCount: pages.totalPages, base: pages.base)
    caches = CPUObjectCaches(slots: pages.cpus * Self.classCount)
    // Asked once the caches' locks have started the validator.
    cacheLockIsTakenEveryTime = LockValidation.checksAsPreemptRT
  }

  /// Objects handed out by `kmalloc` and not yet freed: exact once every
  /// other thread has stopped allocating and freeing.
  public var objectsInUse: Int {
    uncachedInUse.load(ordering: .relaxed) &+ caches.totalInUse()
  }

  /// The size class serving `size` bytes (at most `largestClass`).
  @inline(__always)
  static func classIndex(_ size: Int) -> Int {
    size <= 8 ? 0 : Int.bitWidth - (size - 1).leadingZeroBitCount - 3
  }

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
    guard size <= Self.largestClass else { return kmallocLarge(size, gfp: gfp) }
    let c = Self.classIndex(size)
    let i = currentCPU(modulo: cpus) &* Self.classCount &+ c
    // `.noLocks` takes trylocks only, on any kernel.
    if _slowPath(cacheLockIsTakenEveryTime), !gfp.contains(.noLocks) {
      caches.waitingAcquisition.acquire()
      caches.waitingAcquisition.release()
    }
    if caches.tryLock(i) {
      let slot = caches.slot(i)
      let count = slot.pointee.count
      if count > 0 {
        slot.pointee.count = count &- 1
        let object = slot.pointee.objects[count &- 1]
        caches.countInUse(i, 1)
        caches.unlock(i)
        return object
      }
      caches.unlock(i)
    }
    return kmallocSlow(c, cache: i, gfp: gfp)
  }

  /// The per-CPU cache was empty or busy: take a batch from the size class
  /// (a new slab page when it has no free object), keep one, and put the
  /// rest in the cache.
  private func kmallocSlow(_ c: Int, cache i: Int, gfp: GFP) -> UnsafeMutableRawPointer? {
    if gfp.contains(.noLocks) {
      // Trylocks only, and nothing may go back to the class afterwards (that
      // would wait for its lock): one object, from a slab page that can only
      // come from a per-CPU page list (a trylock too), so the page allocator
      // may be called with the class lock held.
      var object = UnsafeMutableRawPointer(bitPattern: 1)!
      let taken = classes.withTryLock(c) { () -> Int in
        var taken = classes.takeObjects(c, into: &object, limit: 1)
        if taken == 0, let page = pages.allocPages(order: 0, gfp: gfp) {
          classes.installSlab(page, c)
          taken = classes.takeObjects(c, into: &object, limit: 1)
        }
        return taken
      }
      guard taken == 1 else { return nil }
      uncachedInUse.add(1, ordering: .relaxed)
      return object
    }
    return withUnsafeTemporaryAllocation(
      of: UnsafeMutableRawPointer.self, capacity: Self.cacheBatch
    ) { buffer -> UnsafeMutableRawPointer? in
      let batch = buffer.baseAddress!
      var taken = classes.withLock(c) {
        classes.takeObjects(c, into: batch, limit: Self.cacheBatch)
      }
      if taken == 0 {
        // A new slab (`new_slab()`), its page allocated with no lock held.
        guard let page = pages.allocPages(order: 0, gfp: gfp) else { return nil }
        taken = classes.withLock(c) {
          classes.installSlab(page, c)
          return classes.takeObjects(c, into: batch, limit: Self.cacheBatch)
        }
      }
      uncachedInUse.add(1, ordering: .relaxed)
      if taken > 1 { stash(batch + 1, count: taken - 1, in: i, c) }
      return batch[0]
    }
  }

  /// Puts objects taken from size class `c` into cache `i`, if it is free
  /// now and has room; what does not fit goes back to the class.
  private func stash(
    _ objects: UnsafeMutablePointer<UnsafeMutableRawPointer>, count: Int, in i: Int, _ c: Int
  ) {
    var stored = 0
    if caches.tryLock(i) {
      let slot = caches.slot(i)
      stored = min(count, CPUObjectCaches.capacity - slot.pointee.count)
      (slot.pointee.objects + slot.pointee.count).update(from: objects, count: stored)
      slot.pointee.count += stored
      caches.unlock(i)
    }
    if stored < count { returnObjects(objects + stored, count: count - stored, c) }
  }

  /// `kmalloc_large()`: a block of pages of the smallest order that holds `size`.
  private func kmallocLarge(_ size: Int, gfp: GFP) -> UnsafeMutableRawPointer? {
    // Rounded up without `size + pageSize - 1`, which overflows near
    // `Int.max`: such a size is more than any order holds (nil).
    let pageCount =
      size / PageAllocator.pageSize + (size % PageAllocator.pageSize == 0 ? 0 : 1)
    let order = pageCount <= 1 ? 0 : Int.bitWidth - (pageCount - 1).leadingZeroBitCount
    guard order <= pages.maxOrder, let page = pages.allocPages(order: order, gfp: gfp) else {
      return nil
    }
    classes.table.setKind(
      classes.frameNumber(page.address), SlabPageTable.largeBase + Int16(order))
    uncachedInUse.add(1, ordering: .relaxed)
    return page.address
  }

  // MARK: kfree

  /// The size class of `pointer`, a kmalloc object, or a negative number
  /// for a large block (`-1 - order`). Stops the program on a pointer that
  /// is not a kmalloc object.
  @inline(__always)
  private func classOf(_ pointer: UnsafeMutableRawPointer) -> Int {
    precondition(pages.contains(pointer), "kfree: \(pointer) is not a kmalloc object")
    let kind = classes.table.kind(classes.frameNumber(pointer))
    precondition(kind != SlabPageTable.notSlab, "kfree: \(pointer) is not a kmalloc object")
    if kind >= SlabPageTable.largeBase { return -1 - Int(kind - SlabPageTable.largeBase) }
    let c = Int(kind)
    precondition(
      UInt(bitPattern: pointer) & UInt((8 << c) - 1) == 0,
      "kfree: \(pointer) is inside a kmalloc object")
    return c
  }

  /// Frees an object `kmalloc` returned (`kfree()`). Its size class comes
  /// from the page it lies in. Stops the program on a pointer that is not a
  /// `kmalloc` object, and on a double free found: of the object this CPU
  /// freed last (SLUB's check), or of one back in its slab once the second
  /// free reaches the slab (a spill of the cache, or `shrink()`; before
  /// that the object may be handed out twice, as in SLUB without its debug
  /// checks). Never writes into the object.
  public func kfree(_ pointer: UnsafeMutableRawPointer) {
    let c = classOf(pointer)
    guard c >= 0 else { return kfreeLarge(pointer, order: -1 - c) }
    let i = currentCPU(modulo: cpus) &* Self.classCount &+ c
    if _slowPath(cacheLockIsTakenEveryTime) {
      caches.waitingAcquisition.acquire()
      caches.waitingAcquisition.release()
    }
    guard caches.tryLock(i) else {
      uncachedInUse.subtract(1, ordering: .relaxed)
      var object = pointer
      returnObjects(&object, count: 1, c)
      return
    }
    let slot = caches.slot(i)
    let count = slot.pointee.count
    // SLUB's check (`set_freepointer()`: the object is not the freelist's
    // head): the object freed last on this CPU freed again would be
    // handed out twice. A scan of the whole cache cost a third more per
    // kmalloc + kfree. One back in its slab is caught there
    // (`putObjects`).
    if _slowPath(count > 0 && slot.pointee.objects[count &- 1] == pointer) {
      caches.unlock(i)
      preconditionFailure("kfree: double free of \(pointer)")
    }
    caches.countInUse(i, -1)
    if count < CPUObjectCaches.capacity {
      slot.pointee.objects[count] = pointer
      slot.pointee.count = count &+ 1
      caches.unlock(i)
      return
    }
    // A full cache gives its oldest batch back to the class (`__slab_free()`
    // per object), after its lock is dropped.
    withUnsafeTemporaryAllocation(of: UnsafeMutableRawPointer.self, capacity: Self.cacheBatch) {
      buffer in
      let batch = buffer.baseAddress!
      let objects = slot.pointee.objects
      batch.update(from: objects, count: Self.cacheBatch)
      objects.update(from: objects + Self.cacheBatch, count: count - Self.cacheBatch)
      objects[count - Self.cacheBatch] = pointer
      slot.pointee.count = count - Self.cacheBatch + 1
      caches.unlock(i)
      returnObjects(batch, count: Self.cacheBatch, c)
    }
  }

  private func kfreeLarge(_ pointer: UnsafeMutableRawPointer, order: Int) {
    precondition(
      UInt(bitPattern: pointer) % UInt(PageAllocator.pageSize) == 0,
      "kfree: \(pointer) is inside a large kmalloc block")
    uncachedInUse.subtract(1, ordering: .relaxed)
    classes.table.setKind(classes.frameNumber(pointer), SlabPageTable.notSlab)
    pages.freePages(Page(address: pointer), order: order)
  }

  /// Frees every pointer of `pointers` (`kfree_bulk()`).
  public func kfreeBulk(_ pointers: [UnsafeMutableRawPointer]) {
    pointers.withUnsafeBufferPointer { kfreeBulk($0) }
  }

  /// Frees every pointer of `pointers` (`kfree_bulk()`), straight to the
  /// slabs: each run of objects of one size class under one hold of its
  /// lock. Reads the pointers and the slab's table, never the objects.
  public func kfreeBulk(_ pointers: UnsafeBufferPointer<UnsafeMutableRawPointer>) {
    guard let base = pointers.baseAddress else { return }
    let n = pointers.count
    withUnsafeTemporaryAllocation(of: Int.self, capacity: Self.bulkChunk) { buffer in
      let emptied = buffer.baseAddress!
      var i = 0
      while i < n {
        let c = classOf(base[i])
        guard c >= 0 else {
          kfreeLarge(base[i], order: -1 - c)
          i += 1
          continue
        }
        var end = i + 1
        while end < n && end - i < Self.bulkChunk && classOf(base[end]) == c { end += 1 }
        let empty = classes.withLock(c) {
          classes.putObjects(base + i, count: end - i, c, emptied: emptied)
        }
        uncachedInUse.subtract(end - i, ordering: .relaxed)
        freeSlabPages(emptied, count: empty)
        i = end
      }
    }
  }

  /// Gives every object in every per-CPU cache back to its slab, and every
  /// slab left empty back to the page allocator (`kmem_cache_shrink()`).
  /// Once every object is freed, the slabs then hold no page. May sleep,
  /// as the kernel's (`flush_all()` takes `cpus_read_lock()`): checked
  /// first (`mightSleep()`).
  public func shrink() {
    Checked.mightSleep()
    withUnsafeTemporaryAllocation(
      of: UnsafeMutableRawPointer.self, capacity: CPUObjectCaches.capacity
    ) { buffer in
      for i in 0..<caches.slotCount {
        caches.lock(i)
        let slot = caches.slot(i)
        let count = slot.pointee.count
        buffer.baseAddress!.update(from: slot.pointee.objects, count: count)
        slot.pointee.count = 0
        caches.unlock(i)
        returnObjects(buffer.baseAddress!, count: count, i % Self.classCount)
      }
    }
  }

  /// Marks objects free in their slabs under the class lock; a slab whose
  /// last object comes back is freed to the page allocator once the lock
  /// is dropped.
  private func returnObjects(
    _ objects: UnsafeMutablePointer<UnsafeMutableRawPointer>, count: Int, _ c: Int
  ) {
    guard count > 0 else { return }
    withUnsafeTemporaryAllocation(of: Int.self, capacity: count) { buffer in
      let emptied = buffer.baseAddress!
      let empty = classes.withLock(c) {
        classes.putObjects(objects, count: count, c, emptied: emptied)
      }
      freeSlabPages(emptied, count: empty)
    }
  }

  private func freeSlabPages(_ pfns: UnsafeMutablePointer<Int>, count: Int) {
    for k in 0..<count {
      pages.freePages(Page(bits: pages.base + UInt(pfns[k] * PageAllocator.pageSize)))
    }
  }
}
