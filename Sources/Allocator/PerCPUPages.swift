import Lockdep

#if canImport(Glibc)
  import Glibc
#endif

/// One CPU's list of free order-0 pages (the kernel's `struct
/// per_cpu_pages`), under `&pcp->lock`.
///
/// Invariants, under `lock`:
/// - `pages[0..<count]` are page frame numbers of free order-0 pages whose
///   frames are `.perCPU`, each on no other list;
/// - `count <= capacity`: a free that takes the list above `high` spills a
///   batch back to the zone before the lock is dropped, so `count <= high`
///   whenever the lock is free (`high + 1` at most while it is held), and a
///   refill happens only on an empty list.
///
/// The lock is taken with `tryLock()` on the allocation and free paths, as
/// `pcp_spin_trylock()`: a caller that finds it busy goes to the zone. Only
/// a drain waits for it (`drain_pages_zone()`).
final class PerCPUPages: @unchecked Sendable {
  /// `pcp->lock`: a `spinlock_t`.
  let lock = Checked.SpinLock(name: "&pcp->lock", key: LockClassKey("&pcp->lock"))
  /// Free pages listed. Under `lock`.
  private(set) var count = 0
  /// Room in `pages`.
  let capacity: Int
  private let pages: UnsafeMutablePointer<Int32>

  /// An empty list with room for `capacity` pages.
  init(capacity: Int) {
    self.capacity = capacity
    pages = .allocate(capacity: capacity)
  }

  deinit { pages.deallocate() }

  /// Lists a free page. Caller holds `lock`, and `count < capacity`.
  func push(_ pfn: Int) {
    precondition(count < capacity, "per-CPU list overflow")
    pages[count] = Int32(pfn)
    count += 1
  }

  /// The most recently listed page (the cache-hot one), or nil. Caller holds `lock`.
  func pop() -> Int? {
    guard count > 0 else { return nil }
    count -= 1
    return Int(pages[count])
  }

  /// Removes up to `limit` of the oldest listed pages (the cache-cold ones)
  /// and passes each to `body`. Caller holds `lock`.
  func removeOldest(_ limit: Int, _ body: (Int) -> Void) {
    let taken = min(limit, count)
    for i in 0..<taken { body(Int(pages[i])) }
    (pages + 0).update(from: pages + taken, count: count - taken)
    count -= taken
  }
}

/// glibc's `sched_getcpu()`, which the Glibc module does not import (it is
/// a GNU extension); no arguments and an `int` result, so the Swift
/// declaration calls it directly.
@_silgen_name("sched_getcpu")
private func glibcSchedGetCPU() -> Int32

/// The CPU the calling thread runs on (`smp_processor_id()`), folded into
/// `0..<cpus`; 0 where the system cannot say. glibc answers from the
/// thread's rseq area (a load, no system call); the division is skipped
/// when the CPU is in range already.
@inline(__always)
func currentCPU(modulo cpus: Int) -> Int {
  #if os(Linux)
    let cpu = Int(glibcSchedGetCPU())
    if UInt(bitPattern: cpu) < UInt(cpus) { return cpu }
    return cpu < 0 ? 0 : cpu % cpus
  #else
    return 0
  #endif
}

/// The processors online now (`num_online_cpus()`), at least 1.
@usableFromInline
func onlineProcessorCount() -> Int {
  max(1, Int(sysconf(Int32(_SC_NPROCESSORS_ONLN))))
}
