/// A page of `kvfree_rcu()` pointers (the kernel's `kvfree_rcu_bulk_data`):
/// a header of two words, the number of records and the next (older) array
/// of the same queue, then the records, the objects to free.
///
/// Invariant: `count <= capacity` (-1 for a page allocated and not yet an
/// array: `markUnused`); records `0..<count` are objects queued
/// and not yet freed. The page belongs to whoever holds its queue's lock,
/// or to the worker once it detached the queue.
enum ArrayPage {
  /// Records per page: the page less its header.
  static let capacity = (4096 - 2 * MemoryLayout<Int>.size) / MemoryLayout<Int>.size

  /// The number of records.
  @inline(__always)
  static func count(_ page: UnsafeMutableRawPointer) -> Int { page.load(as: Int.self) }

  /// The next (older) array, or nil.
  @inline(__always)
  static func next(_ page: UnsafeMutableRawPointer) -> UnsafeMutableRawPointer? {
    page.load(fromByteOffset: MemoryLayout<Int>.size, as: UnsafeMutableRawPointer?.self)
  }

  /// The records.
  @inline(__always)
  static func records(_ page: UnsafeMutableRawPointer) -> UnsafeMutablePointer<
    UnsafeMutableRawPointer
  > {
    (page + 2 * MemoryLayout<Int>.size).bindMemory(
      to: UnsafeMutableRawPointer.self, capacity: capacity)
  }

  /// Marks a page just taken from the page allocator as never used for an
  /// array (its count word holds -1 until `start` makes it an array).
  @inline(__always)
  static func markUnused(_ page: UnsafeMutableRawPointer) { page.storeBytes(of: -1, as: Int.self) }

  /// Whether `page` never held an array since it was allocated (`markUnused`).
  @inline(__always)
  static func isUnused(_ page: UnsafeMutableRawPointer) -> Bool { count(page) == -1 }

  /// Makes `page` an empty array in front of `next`.
  @inline(__always)
  static func start(_ page: UnsafeMutableRawPointer, next: UnsafeMutableRawPointer?) {
    page.storeBytes(of: 0, as: Int.self)
    page.storeBytes(
      of: next, toByteOffset: MemoryLayout<Int>.size, as: UnsafeMutableRawPointer?.self)
  }

  /// Appends `object` to `page`, which has room.
  @inline(__always)
  static func append(_ object: UnsafeMutableRawPointer, to page: UnsafeMutableRawPointer) {
    let n = count(page)
    (page + 2 * MemoryLayout<Int>.size + n * MemoryLayout<Int>.size).storeBytes(
      of: object, as: UnsafeMutableRawPointer.self)
    page.storeBytes(of: n &+ 1, as: Int.self)
  }
}
