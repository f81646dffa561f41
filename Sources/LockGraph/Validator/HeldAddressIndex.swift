/// Which thread slots of a trace's validator may hold a lock whose instance
/// lies in a given page of memory: what a `free` or an `init` checks,
/// rather than the held locks of every thread holding any.
///
/// A trace of a server records frees all the time, while hundreds of its
/// threads hold locks elsewhere; checking each of them at each free made
/// such a trace a hundred times slower to read than one without frees.
/// Here a free looks up the pages it covers and checks only the threads
/// listed there.
///
/// The index is kept up to date without any work on the acquisition's fast
/// path beyond what it did already: a thread that acquires is listed as
/// unindexed (`ThreadSlots.unindexed`, one flag test per acquisition), and
/// its held locks not indexed yet (`HeldLock.isIndexed`) are indexed by
/// the next query (`holders`). A release does nothing: an
/// entry may outlive its lock, and a query checks a listed thread's held
/// locks before counting it (and drops the entry when it holds nothing in
/// that page any more).
///
/// Invariants:
/// - every held lock with an instance (not 0) that is `isIndexed` has an
///   entry `pages[instance >> pageShift]` holding its slot (entries are a
///   superset), and a held lock that is not belongs to a slot listed as
///   unindexed;
/// - `entries` is the number of (page, slot) entries; once it passes
///   `rebuildAt`, the next free makes the index again from the held locks
///   alone, so memory stays bounded by the locks held and the slots, not
///   by the locks a trace ever held.
struct HeldAddressIndex {
  /// Bits of an address below its page number.
  static let pageShift: UInt64 = 12

  /// The slots listed in each page that has any.
  private var pages: [UInt64: Set<Int32>] = [:]
  /// The number of (page, slot) entries.
  private(set) var entries = 0
  /// The entry count past which `index` rebuilds the whole index.
  private var rebuildAt = 1024
  /// The listed pages in order, for a range of more pages than are
  /// listed: valid while `sortedValid` (no page was listed since; a page
  /// dropped may stay in it, and is skipped).
  private var sortedPages: [UInt64] = []
  private var sortedValid = false
  /// Pages visited without `sortedPages` since it was last made (a pass
  /// over the listed pages, or a lookup per page of a range): once they
  /// cost as much as sorting, it is made again. So frees of large ranges
  /// among many holders cost a search each, not a visit to every page
  /// (80,000 holders and 80,000 frees of 80,001 pages: 11 s; of 79,999
  /// pages, which went page by page: 158 s, now 0.3 s), and a trace that
  /// lists new pages between them pays no more than a pass each.
  private var visitsSinceSort: UInt64 = 0

  /// Lists slot `s`'s held locks not listed yet (`HeldLock.isIndexed`),
  /// each slot once per page. `all`: every one (for a rebuild).
  private mutating func index(
    _ s: Int, threads: UnsafeMutableBufferPointer<ThreadValidator>, all: Bool = false
  ) {
    let held = threads[s].state.held
    for i in held.indices where all || !held[i].isIndexed {
      held[i].isIndexed = true
      let instance = held[i].instance
      if instance != 0 {
        let page = instance >> Self.pageShift
        if pages[page] == nil { sortedValid = false }
        if pages[page, default: []].insert(Int32(s)).inserted { entries += 1 }
      }
    }
  }

  /// Makes the index again from the held locks of every slot, when stale
  /// entries have piled up past `rebuildAt`. Amortized: a rebuild happens
  /// only after at least as many entries were added as it visits.
  private mutating func rebuildIfGrown(threads: UnsafeMutableBufferPointer<ThreadValidator>) {
    guard entries > rebuildAt else { return }
    pages.removeAll(keepingCapacity: false)
    sortedValid = false
    entries = 0
    for s in threads.indices where !threads[s].state.held.isEmpty {
      index(s, threads: threads, all: true)
    }
    rebuildAt = max(1024, 2 * entries + threads.count)
  }

  /// The slots other than `excluded` holding a lock that lies in the
  /// `length` bytes from `from` (`ThreadValidator.lies`), each once, in no
  /// order, once the slots listed in `unindexed` are indexed (their
  /// `awaitsIndex` cleared, the list emptied) and the index rebuilt if it
  /// grew past `rebuildAt`. Entries of the pages looked at whose slot holds
  /// nothing in that page any more are dropped.
  mutating func holders(
    from: UInt64, length: UInt64, excluding excluded: Int,
    threads: UnsafeMutableBufferPointer<ThreadValidator>, indexingFirst unindexed: inout [Int]
  ) -> [Int] {
    for s in unindexed {
      threads[s].awaitsIndex = false
      index(s, threads: threads)
    }
    unindexed.removeAll(keepingCapacity: true)
    rebuildIfGrown(threads: threads)
    guard length > 0, entries > 0 else { return [] }
    // `freedLength` never runs past the top of the address space.
    let first = from >> Self.pageShift
    let last = (from &+ (length &- 1)) >> Self.pageShift
    var found: Set<Int> = []
    let span = last - first
    let listed = UInt64(pages.count)
    if !sortedValid {
      // What this query costs without the sorted list: a pass over the
      // listed pages, or a lookup per page of the range.
      visitsSinceSort &+= min(span, listed - 1) + 1
      let sortCost = listed * UInt64(UInt64.bitWidth - listed.leadingZeroBitCount)
      if visitsSinceSort > sortCost {
        sortedPages = pages.keys.sorted()
        sortedValid = true
        visitsSinceSort = 0
      }
    }
    if span >= listed || (sortedValid && span >= Self.searchSpan) {
      // More pages in the range than pages listed, or than a search
      // costs: go through the listed ones in it.
      for page in listedPages(from: first, through: last) {
        look(
          at: page, from: from, length: length, excluding: excluded, threads: threads, into: &found)
      }
    } else {
      var page = first
      while true {
        look(
          at: page, from: from, length: length, excluding: excluded, threads: threads, into: &found)
        if page == last { break }
        page += 1
      }
    }
    return Array(found)
  }

  /// The span of a range (its pages less one) from which a search of
  /// `sortedPages` is taken rather than a lookup per page.
  static let searchSpan: UInt64 = 32

  /// The listed pages from `first` through `last` (and perhaps pages
  /// dropped since they were listed): found by binary search in
  /// `sortedPages` while it is valid, else by a pass over every listed
  /// page (`holders` makes `sortedPages` again once such visits cost as
  /// much as a sort).
  private func listedPages(from first: UInt64, through last: UInt64) -> [UInt64] {
    guard sortedValid else { return pages.keys.filter { $0 >= first && $0 <= last } }
    var low = 0
    var high = sortedPages.count
    while low < high {
      let middle = (low + high) / 2
      if sortedPages[middle] < first { low = middle + 1 } else { high = middle }
    }
    var result: [UInt64] = []
    while low < sortedPages.count, sortedPages[low] <= last {
      result.append(sortedPages[low])
      low += 1
    }
    return result
  }

  /// `holders` in one page.
  private mutating func look(
    at page: UInt64, from: UInt64, length: UInt64, excluding excluded: Int,
    threads: UnsafeMutableBufferPointer<ThreadValidator>, into found: inout Set<Int>
  ) {
    guard let listed = pages[page] else { return }
    let pageStart = page << Self.pageShift
    var stale: [Int32] = []
    for slot in listed {
      let s = Int(slot)
      if !threads[s].holdsLock(from: pageStart, length: 1 << Self.pageShift) {
        stale.append(slot)
      } else if s != excluded && threads[s].holdsLock(from: from, length: length) {
        found.insert(s)
      }
    }
    guard !stale.isEmpty else { return }
    entries -= stale.count
    if stale.count == listed.count {
      pages[page] = nil
    } else {
      pages[page]!.subtract(stale)
    }
  }
}
