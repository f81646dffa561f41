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
  /// Never allocate in the caller's context: a cache that runs empty wakes
  /// a refill worker of its own at once (the kernel's
  /// `run_page_cache_worker()`), which refills the per-CPU page caches with
  /// sleeping `.kernel` allocations; the caller only takes cached pages,
  /// else falls back to the list. The headless `kvfreeRCU(_:)` drops the
  /// lock and allocates by itself, as in every design.
  case deferred
}

/// Counters of one `KvfreeRCU`.
public struct KvfreeStatistics: Sendable, Equatable {
  /// Pages taken from the page allocator for pointer arrays.
  public var arrayPagesAllocated = 0
  /// Of those, the pages that held a pointer array at least once (a page
  /// cached and given back by `shrink()` without ever holding one is
  /// allocated, not used).
  public var arrayPagesUsed = 0
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
}
