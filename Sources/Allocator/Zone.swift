import Lockdep
import Synchronization

/// What a page frame is doing now, in the memory map.
enum FrameState: UInt8 {
  /// Inside a larger block (not its first page), or never used.
  case tail
  /// The first page of a free block on the zone's free list of its order
  /// (`PageBuddy()`).
  case buddy
  /// A free order-0 page on a per-CPU list.
  case perCPU
  /// The first page of a block handed out, of its order.
  case allocated
}

/// One entry of the memory map: the fields of the kernel's `struct page`
/// that the buddy allocator uses.
///
/// Invariant: `order`, `next` and `prev` mean something only on the first
/// page of a block; `next`/`prev` link a `buddy` block into its free list
/// (-1 ends it).
struct PageFrame {
  var order: Int8 = 0
  var next: Int32 = -1
  var prev: Int32 = -1
}

/// The zone: the arena's free pages in buddy lists, under `&zone->lock`
/// (mm/page_alloc.c's `struct zone` with its `free_area[]`).
///
/// Invariants, under `lock`:
/// - every free page of the zone belongs to exactly one block on exactly one
///   free list; a block of order `n` starts at a page frame number that is a
///   multiple of `1 << n`, and its frame is `.buddy` with `order == n`;
/// - two free buddies of order `n < maxOrder` never both sit on the list
///   (freeing merges them: `freeBlock`), so a fully free zone holds the
///   fewest, largest blocks;
/// - `freePages` is the sum of `1 << n` over every listed block.
///
/// The frames of pages outside the zone (on per-CPU lists, or handed out)
/// belong to whoever holds those pages; the zone reads them only to decide
/// whether a buddy is free, and a page that is not `.buddy` is never merged.
final class Zone: @unchecked Sendable {
  /// `zone->lock`: a `spinlock_t`, so it may not be taken under a raw spin
  /// lock (it sleeps on PREEMPT_RT). Taken with interrupts off, as
  /// `spin_lock_irqsave(&zone->lock)`.
  let lock = Checked.SpinLock(name: "&zone->lock", key: LockClassKey("&zone->lock"))
  /// Page frames in the zone (the arena's pages).
  let pageCount: Int
  /// The largest order this zone can hold: `PageAllocator.maxOrder`, or less
  /// for an arena smaller than a block of that order.
  let maxOrder: Int
  /// The memory map, one frame per page; see `PageFrame`.
  let frames: UnsafeMutablePointer<PageFrame>
  /// Each page's `FrameState`, apart from its frame and atomic: a page's
  /// owner changes it (freeing to a per-CPU list, under that list's lock)
  /// while the zone's lock holder reads it to decide whether a buddy is
  /// free. The rest of a frame is read by the zone only once its state
  /// says the zone owns the page (`.buddy`).
  private let states: UnsafeMutablePointer<Atomic<UInt8>>
  /// First block of each order's free list (-1: empty). Under `lock`.
  private let freeHeads: UnsafeMutablePointer<Int32>
  /// Pages free in the lists. Under `lock`.
  private(set) var freePages = 0
  /// `freePages`, readable without the lock (statistics).
  let freePagesMirror = Atomic<Int>(0)

  /// A zone over `pageCount` pages, all free.
  init(pageCount: Int, maxOrder: Int) {
    precondition(pageCount > 0 && pageCount <= Int(Int32.max))
    self.pageCount = pageCount
    self.maxOrder = min(maxOrder, Int.bitWidth - 1 - pageCount.leadingZeroBitCount)
    frames = .allocate(capacity: pageCount)
    frames.initialize(repeating: PageFrame(), count: pageCount)
    states = .allocate(capacity: pageCount)
    for i in 0..<pageCount { (states + i).initialize(to: Atomic(FrameState.tail.rawValue)) }
    freeHeads = .allocate(capacity: self.maxOrder + 1)
    freeHeads.initialize(repeating: -1, count: self.maxOrder + 1)
    // As memblock_free_pages() at boot: the largest naturally aligned
    // blocks that fit, lowest address first.
    var pfn = 0
    while pfn < pageCount {
      let alignment = pfn == 0 ? self.maxOrder : pfn.trailingZeroBitCount
      let fits = Int.bitWidth - 1 - (pageCount - pfn).leadingZeroBitCount
      let order = min(self.maxOrder, alignment, fits)
      addFree(pfn, order: order)
      pfn += 1 << order
    }
    freePagesMirror.store(freePages, ordering: .relaxed)
  }

  deinit {
    frames.deallocate()
    states.deinitialize(count: pageCount)
    states.deallocate()
    freeHeads.deallocate()
  }

  /// The state of page `pfn`.
  func state(_ pfn: Int) -> FrameState {
    FrameState(rawValue: states[pfn].load(ordering: .acquiring))!
  }

  /// Sets the state of page `pfn` (its owner, or the zone's lock holder).
  func setState(_ pfn: Int, _ state: FrameState) {
    states[pfn].store(state.rawValue, ordering: .releasing)
  }

  /// Puts the block at `pfn` on the free list of `order`. Caller holds `lock`.
  private func addFree(_ pfn: Int, order: Int) {
    let head = freeHeads[order]
    frames[pfn] = PageFrame(order: Int8(order), next: head, prev: -1)
    setState(pfn, .buddy)
    if head >= 0 { frames[Int(head)].prev = Int32(pfn) }
    freeHeads[order] = Int32(pfn)
    freePages += 1 << order
  }

  /// Takes the listed block at `pfn` off the free list of `order`, leaving
  /// its frame `.tail` for the caller to set. Caller holds `lock`.
  private func removeFree(_ pfn: Int, order: Int) {
    let frame = frames[pfn]
    if frame.prev >= 0 {
      frames[Int(frame.prev)].next = frame.next
    } else {
      freeHeads[order] = frame.next
    }
    if frame.next >= 0 { frames[Int(frame.next)].prev = frame.prev }
    frames[pfn] = PageFrame()
    setState(pfn, .tail)
    freePages -= 1 << order
  }

  /// Takes a block of `order` (`__rmqueue_smallest()`): the first block of
  /// the smallest order that has one, split in halves (`expand()`) down to
  /// `order`, each upper half going back on the list below. Returns its
  /// first page frame number, marked `.allocated`, or nil when no block is
  /// large enough. Caller holds `lock`.
  func takeBlock(order: Int) -> Int? {
    guard order <= maxOrder else { return nil }
    var current = order
    while current <= maxOrder && freeHeads[current] < 0 { current += 1 }
    guard current <= maxOrder else { return nil }
    let pfn = Int(freeHeads[current])
    removeFree(pfn, order: current)
    while current > order {
      current -= 1
      addFree(pfn + (1 << current), order: current)
    }
    setState(pfn, .allocated)
    frames[pfn].order = Int8(order)
    return pfn
  }

  /// Gives back the block of `order` at `pfn` (`__free_one_page()`): while
  /// its buddy (`pfn ^ (1 << order)`) is a free block of the same order, the
  /// two merge into one of the next order. Caller holds `lock` and owns the
  /// block (no list holds it).
  func freeBlock(_ pfn: Int, order: Int) {
    var pfn = pfn
    var order = order
    while order < maxOrder {
      let buddy = pfn ^ (1 << order)
      guard buddy < pageCount else { break }
      // The state first: only a `.buddy` frame is the zone's to read.
      guard state(buddy) == .buddy && Int(frames[buddy].order) == order else { break }
      removeFree(buddy, order: order)
      frames[pfn] = PageFrame()
      setState(pfn, .tail)
      pfn = min(pfn, buddy)
      order += 1
    }
    addFree(pfn, order: order)
  }

  /// Publishes `freePages` for readers without the lock. Caller holds `lock`.
  func publishFreePages() {
    freePagesMirror.store(freePages, ordering: .relaxed)
  }

  /// The number of free blocks on each order's list (tests, `/proc/buddyinfo`).
  /// Caller holds `lock`.
  func freeBlockCounts() -> [Int] {
    (0...maxOrder).map { order in
      var count = 0
      var pfn = freeHeads[order]
      while pfn >= 0 {
        count += 1
        pfn = frames[Int(pfn)].next
      }
      return count
    }
  }
}
