import Lockdep

/// The slab allocator's size classes (SLUB's `kmem_cache`s, each with its
/// one `kmem_cache_node`): class `c` cuts order-0 pages into objects of
/// `8 << c` bytes, and lists the pages with a free object on its partial
/// list, under its lock.
///
/// The free objects of a page are bits in the `SlabPageTable`, never links
/// written into the objects: taking and returning objects reads and writes
/// only the table (see its invariants).
///
/// The locks are kept as unmanaged references (retained here, released in
/// `deinit`) and the partial-list heads as raw memory, so that the hot
/// paths take a lock without reference counting it and change a head
/// without an exclusivity check.
final class SizeClasses: @unchecked Sendable {
  let count: Int
  let table: SlabPageTable
  /// The arena's first byte, as a bit pattern.
  private let base: UInt
  private let locks: UnsafeMutablePointer<Unmanaged<Checked.SpinLock>>
  /// First page of each class's partial list (-1: empty). Under its lock.
  private let partialHeads: UnsafeMutablePointer<Int32>

  init(count: Int, pageCount: Int, base: UInt) {
    self.count = count
    self.base = base
    table = SlabPageTable(pageCount: pageCount, classCount: count)
    locks = .allocate(capacity: count)
    partialHeads = .allocate(capacity: count)
    partialHeads.initialize(repeating: -1, count: count)
    for c in 0..<count {
      // `n->list_lock`: a `spinlock_t`, one lock class for every size class
      // (two are never held at once).
      let lock = Checked.SpinLock(name: "&n->list_lock", key: LockClassKey("&n->list_lock"))
      (locks + c).initialize(to: Unmanaged.passRetained(lock))
    }
  }

  deinit {
    for c in 0..<count { locks[c].release() }
    locks.deallocate()
    partialHeads.deallocate()
  }

  /// `body` under class `c`'s lock, taken as SLUB takes `n->list_lock`,
  /// with interrupts off (`spin_lock_irqsave()`): a `kfree` in an
  /// interrupt or an RCU callback (softirq) takes it too.
  @inline(__always)
  func withLock<R>(_ c: Int, _ body: () -> R) -> R {
    locks[c]._withUnsafeGuaranteedRef { $0.withLockIRQSave(body) }
  }

  /// `body` under class `c`'s lock if it is free now
  /// (`spin_trylock_irqsave()`); nil, without running `body`, if not.
  @inline(__always)
  func withTryLock<R>(_ c: Int, _ body: () -> R) -> R? {
    locks[c]._withUnsafeGuaranteedRef { $0.withTryLockIRQSave(body) }
  }

  /// The page frame number of `object`.
  @inline(__always)
  func frameNumber(_ object: UnsafeMutableRawPointer) -> Int {
    Int(bitPattern: (UInt(bitPattern: object) &- base) &>> 12)
  }

  /// Makes a fresh page a slab of class `c`: every object free, the page
  /// on the partial list. Caller holds class `c`'s lock and takes an
  /// object before dropping it (a partial slab has one in use).
  func installSlab(_ page: Page, _ c: Int) {
    let pfn = Int((page.bits &- base) >> 12)
    table.install(c, pfn)
    addPartial(c, pfn)
  }

  /// Takes up to `limit` free objects of class `c` off its partial slabs
  /// into `buffer`; returns how many. Caller holds class `c`'s lock.
  func takeObjects(
    _ c: Int, into buffer: UnsafeMutablePointer<UnsafeMutableRawPointer>, limit: Int
  ) -> Int {
    let shift = c &+ 3
    var taken = 0
    while taken < limit && partialHeads[c] >= 0 {
      let pfn = Int(partialHeads[c])
      let page = base &+ UInt(bitPattern: pfn &<< 12)
      let bits = table.freeBits(c, pfn)
      let words = SlabPageTable.wordsPerPage(c)
      var w = 0
      while taken < limit && w < words {
        var word = bits[w]
        while taken < limit && word != 0 {
          let bit = word.trailingZeroBitCount
          word &= word &- 1
          let offset = (w &<< 6 &+ bit) &<< shift
          buffer[taken] = UnsafeMutableRawPointer(bitPattern: page &+ UInt(bitPattern: offset))!
          taken &+= 1
        }
        bits[w] = word
        w &+= 1
      }
      // A slab with no free object leaves the partial list (it is full).
      if table.isFull(c, pfn) { removePartial(c, pfn) }
    }
    return taken
  }

  /// Marks `count` objects of class `c` free in their slabs. A slab that
  /// was full goes on the partial list; one whose last object comes back
  /// leaves the slab, and its frame number is put in `emptied` (room for
  /// `count`) for the caller to free once the lock is dropped. Returns how
  /// many were emptied. Caller holds class `c`'s lock. Stops the program on
  /// an object that is already free (a double free).
  func putObjects(
    _ objects: UnsafePointer<UnsafeMutableRawPointer>, count: Int, _ c: Int,
    emptied: UnsafeMutablePointer<Int>
  ) -> Int {
    let shift = c &+ 3
    var emptiedCount = 0
    for i in 0..<count {
      let object = objects[i]
      let pfn = frameNumber(object)
      let index = (Int(bitPattern: object) & (PageAllocator.pageSize &- 1)) &>> shift
      let word = table.freeBits(c, pfn) + (index &>> 6)
      let bit = UInt64(1) &<< UInt64(index & 63)
      let wasFull = table.isFull(c, pfn)
      // A page emptied (given back) before this free, in this batch or an
      // earlier one, is no slab of the class any more: its bitmap is
      // clear, and this object freed twice.
      precondition(
        table.kind(pfn) == Int16(c) && word.pointee & bit == 0, "kfree: double free of \(object)")
      word.pointee |= bit
      if table.isAllFree(c, pfn) {
        if table.links[pfn].onPartial { removePartial(c, pfn) }
        table.uninstall(c, pfn)
        emptied[emptiedCount] = pfn
        emptiedCount += 1
      } else if wasFull {
        addPartial(c, pfn)
      }
    }
    return emptiedCount
  }

  // MARK: Partial lists

  /// Caller holds class `c`'s lock.
  private func addPartial(_ c: Int, _ pfn: Int) {
    let head = partialHeads[c]
    table.links[pfn] = SlabLinks(next: head, prev: -1, onPartial: true)
    if head >= 0 { table.links[Int(head)].prev = Int32(pfn) }
    partialHeads[c] = Int32(pfn)
  }

  /// Caller holds class `c`'s lock.
  private func removePartial(_ c: Int, _ pfn: Int) {
    let links = table.links[pfn]
    if links.prev >= 0 {
      table.links[Int(links.prev)].next = links.next
    } else {
      partialHeads[c] = links.next
    }
    if links.next >= 0 { table.links[Int(links.next)].prev = links.prev }
    table.links[pfn] = SlabLinks()
  }
}
