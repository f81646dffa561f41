/// A block of `1 << order` contiguous pages handed out by a `PageAllocator`,
/// named by the address of its first byte (the kernel's `struct page *`
/// with `page_address()` in one).
///
/// The address is kept as its bit pattern so that a page can cross threads
/// (`Sendable`); it carries no ownership, and is valid until the block is
/// freed with `PageAllocator.freePages(_:order:)` at the order it was
/// allocated with.
public struct Page: Hashable, Sendable {
  /// The bit pattern of `address`.
  public let bits: UInt

  /// The first byte of the block: page-aligned, inside the allocator's arena.
  public var address: UnsafeMutableRawPointer { UnsafeMutableRawPointer(bitPattern: bits)! }

  /// The page whose first byte is `address` (to free a block whose pointer
  /// was kept elsewhere, as `virt_to_page()`).
  public init(address: UnsafeMutableRawPointer) { bits = UInt(bitPattern: address) }

  init(bits: UInt) { self.bits = bits }
}

/// Counters of a `PageAllocator`, read without stopping it: each value is
/// exact, but while other threads allocate they are not one snapshot.
///
/// Invariant, once every thread has stopped: `pagesInUse == pagesAllocated -
/// pagesFreed`, and `zoneFreePages + perCPUPages + pagesInUse == totalPages`.
public struct AllocatorStatistics: Sendable, Equatable {
  /// Pages handed out so far (a block of order `n` counts `1 << n`).
  public var pagesAllocated: Int
  /// Pages given back so far (a block of order `n` counts `1 << n`).
  public var pagesFreed: Int
  /// Times the zone lock was taken (`lock()` or a successful `tryLock()`).
  public var zoneLockAcquisitions: Int
  /// Times a per-CPU list was refilled from the zone.
  public var pcpRefills: Int
  /// `allocPagesNoLock()` calls that returned nil (a lock busy, or no page).
  public var nolockFailures: Int
  /// `allocPages()` calls that returned nil.
  public var allocationFailures: Int
  /// Pages handed out and not yet freed.
  public var pagesInUse: Int
  /// Pages free in the zone's buddy lists.
  public var zoneFreePages: Int
  /// Pages free on the per-CPU lists.
  public var perCPUPages: Int
  /// Pages in the arena.
  public var totalPages: Int

  /// Counters of the given values (all zero by default): to compare an
  /// allocator's with, or to build in a test.
  public init(
    pagesAllocated: Int = 0, pagesFreed: Int = 0, zoneLockAcquisitions: Int = 0,
    pcpRefills: Int = 0, nolockFailures: Int = 0, allocationFailures: Int = 0,
    pagesInUse: Int = 0, zoneFreePages: Int = 0, perCPUPages: Int = 0, totalPages: Int = 0
  ) {
    self.pagesAllocated = pagesAllocated
    self.pagesFreed = pagesFreed
    self.zoneLockAcquisitions = zoneLockAcquisitions
    self.pcpRefills = pcpRefills
    self.nolockFailures = nolockFailures
    self.allocationFailures = allocationFailures
    self.pagesInUse = pagesInUse
    self.zoneFreePages = zoneFreePages
    self.perCPUPages = perCPUPages
    self.totalPages = totalPages
  }
}
