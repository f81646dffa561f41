import Synchronization

#if canImport(Glibc)
  import Glibc
#endif

/// A slab page's place on its size class's partial list (SLUB keeps it in
/// `struct slab`, which overlays `struct page`). Under the class's lock.
struct SlabLinks {
  var next: Int32 = -1
  var prev: Int32 = -1
  var onPartial = false
}

/// What every page of the arena is to the slab allocator, kept out of the
/// pages themselves: the slab never writes into a free object, so freeing
/// one (above all `kfreeBulk`, which only reads a pointer array) touches
/// this table and nothing of the object's memory. Old SLAB kept its
/// freelist out of line too (an index array per slab); SLUB threads it
/// through the objects.
///
/// Per page frame number `pfn`:
/// - `kind(pfn)`: `SlabPageTable.notSlab`, a size-class index
///   (`0..<classCount`), or `largeBase + order` for a whole-page kmalloc
///   block. Set before the page's first object is handed out and reset only
///   after its last one came back, so `kfree` reads it without a lock: the
///   object it frees keeps the page's kind fixed.
/// - For a page of size class `c`, every other entry is read and written
///   only under class `c`'s lock: `freeBits(c, pfn)` has bit `i` set
///   exactly when object `i` of the page is free in the slab (not handed
///   out, not in a per-CPU cache); the page is on its class's partial list
///   (`links`) exactly when it has a free object and at least one that is
///   not.
///
/// The bitmaps are one array per size class, `wordsPerPage(c)` words a
/// page, so a page of 32-byte objects has 16 bytes of them: the metadata
/// of a freed object is a few bytes next to its neighbours', not a cache
/// line of its own. There is no free count: whether a page is full or
/// wholly free is read off its bitmap words (two for 32-byte objects, at
/// most eight), which a free touches anyway, whereas a count would be one
/// more array in the data cache: the kind and the bitmap of every slab
/// page must stay there together while a walk frees objects in random
/// order. They are zeroed memory from `calloc`, so
/// the pages of the table that no slab uses are never touched.
final class SlabPageTable: @unchecked Sendable {
  static let notSlab: Int16 = -1
  static let largeBase: Int16 = 100

  let pageCount: Int
  let classCount: Int
  let links: UnsafeMutablePointer<SlabLinks>
  private let kinds: UnsafeMutablePointer<Atomic<Int16>>
  private let bitmaps: UnsafeMutablePointer<UnsafeMutablePointer<UInt64>>

  init(pageCount: Int, classCount: Int) {
    self.pageCount = pageCount
    self.classCount = classCount
    links = .allocate(capacity: pageCount)
    links.initialize(repeating: SlabLinks(), count: pageCount)
    kinds = .allocate(capacity: pageCount)
    for i in 0..<pageCount { (kinds + i).initialize(to: Atomic(Self.notSlab)) }
    bitmaps = .allocate(capacity: classCount)
    for c in 0..<classCount {
      let words = pageCount * Self.wordsPerPage(c)
      guard let memory = calloc(words, MemoryLayout<UInt64>.size) else {
        fatalError("SlabPageTable: cannot allocate \(words) bitmap words")
      }
      (bitmaps + c).initialize(to: memory.assumingMemoryBound(to: UInt64.self))
    }
  }

  deinit {
    links.deallocate()
    kinds.deinitialize(count: pageCount)
    kinds.deallocate()
    for c in 0..<classCount { free(bitmaps[c]) }
    bitmaps.deallocate()
  }

  /// Objects in a page of size class `c` (8 << c bytes each).
  @inline(__always)
  static func objectsPerPage(_ c: Int) -> Int { PageAllocator.pageSize &>> (c &+ 3) }

  /// Bitmap words a page of size class `c` has.
  @inline(__always)
  static func wordsPerPage(_ c: Int) -> Int { max(1, objectsPerPage(c) &>> 6) }

  /// The kind of page `pfn`.
  @inline(__always)
  func kind(_ pfn: Int) -> Int16 { kinds[pfn].load(ordering: .acquiring) }

  /// Sets the kind of page `pfn`.
  func setKind(_ pfn: Int, _ kind: Int16) { kinds[pfn].store(kind, ordering: .releasing) }

  /// Word `w`'s bits when every object of a page of class `c` is free.
  @inline(__always)
  static func fullWord(_ c: Int, _ w: Int) -> UInt64 {
    let left = objectsPerPage(c) &- w &<< 6
    return left >= 64 ? ~0 : (1 &<< UInt64(left)) &- 1
  }

  /// Whether page `pfn` of class `c` has no free object. Under the class lock.
  @inline(__always)
  func isFull(_ c: Int, _ pfn: Int) -> Bool {
    let bits = freeBits(c, pfn)
    var any: UInt64 = 0
    for w in 0..<Self.wordsPerPage(c) { any |= bits[w] }
    return any == 0
  }

  /// Whether every object of page `pfn` of class `c` is free. Under the
  /// class lock.
  @inline(__always)
  func isAllFree(_ c: Int, _ pfn: Int) -> Bool {
    let bits = freeBits(c, pfn)
    var missing: UInt64 = 0
    for w in 0..<Self.wordsPerPage(c) { missing |= bits[w] ^ Self.fullWord(c, w) }
    return missing == 0
  }

  /// The free-object bitmap of page `pfn` of class `c`. Under the class lock.
  @inline(__always)
  func freeBits(_ c: Int, _ pfn: Int) -> UnsafeMutablePointer<UInt64> {
    bitmaps[c] + pfn &* Self.wordsPerPage(c)
  }

  /// Makes page `pfn` a slab of class `c` with every object free. Under the
  /// class lock; the page is not on the partial list yet.
  func install(_ c: Int, _ pfn: Int) {
    let bits = freeBits(c, pfn)
    for w in 0..<Self.wordsPerPage(c) { bits[w] = Self.fullWord(c, w) }
    links[pfn] = SlabLinks()
    setKind(pfn, Int16(c))
  }

  /// Page `pfn` of class `c` has every object free again and leaves the
  /// slab (it is off the partial list). Under the class lock.
  func uninstall(_ c: Int, _ pfn: Int) {
    let bits = freeBits(c, pfn)
    for w in 0..<Self.wordsPerPage(c) { bits[w] = 0 }
    setKind(pfn, Self.notSlab)
  }
}
