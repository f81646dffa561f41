import Lockdep
import Synchronization

/// One CPU's queue (the kernel's `struct kfree_rcu_cpu`), in raw memory.
///
/// Invariants (every field is guarded by the CPU's `&krcp->lock`, which is
/// only taken with interrupts masked):
/// - `bulk` is the array being filled (`ArrayPage`), its `next` chain the
///   full ones before it, nil when there is none;
/// - `list` is the list fallback, threaded through `RCUHead.next`;
/// - `cache[0..<cacheCount]` are empty pages, at most the core's `cacheLimit`;
/// - `refillRequested` (deferred design; the kernel's `work_in_progress`)
///   is true from a miss that asked the refill worker for this CPU's
///   cache until the worker has refilled it: misses meanwhile ask nothing;
/// - nothing here allocates under the lock except the page allocation the
///   design makes.
struct KrcState {
  /// `&krcp->lock`, retained by `KrcCPUs`.
  var bulk: UnsafeMutableRawPointer?
  var list: UnsafeMutablePointer<RCUHead>?
  var cacheCount: Int
  let cache: UnsafeMutablePointer<UnsafeMutableRawPointer>
  var refillRequested = false
}

/// Every CPU's `KrcState`, each in a cache line of its own, with two
/// counters beside it (objects queued with a head, and of those the ones
/// that went on the list), written only under the CPU's lock (a plain load
/// and store, no atomic read-modify-write) and read by anyone.
///
/// Raw memory and unmanaged locks, and a struct rather than a class, so
/// that `kvfreeRCU`'s path does no reference counting, no array
/// copy-on-write check and no exclusivity check. Its owner calls
/// `destroy()` once, when no thread can use it any more.
struct KrcCPUs: @unchecked Sendable {
  private static let stride = 64
  /// The CPU's lock, beside (not in) the state it guards, so that taking
  /// it never overlaps an access to that state (ThreadSanitizer).
  private static let lockOffset = 40
  private static let queuedOffset = 48
  private static let fallbacksOffset = 56

  let count: Int
  private let memory: UnsafeMutableRawPointer

  init(count: Int, cacheLimit: Int) {
    precondition(MemoryLayout<KrcState>.size <= Self.lockOffset)
    self.count = count
    memory = .allocate(byteCount: count * Self.stride, alignment: Self.stride)
    for i in 0..<count {
      // One lock class for every CPU's lock.
      let lock = Checked.RawSpinLock(name: "&krcp->lock", key: LockClassKey("&krcp->lock"))
      (memory + i * Self.stride).initializeMemory(
        as: KrcState.self,
        repeating: KrcState(
          bulk: nil, list: nil, cacheCount: 0, cache: .allocate(capacity: max(1, cacheLimit))),
        count: 1)
      (memory + i * Self.stride + Self.lockOffset).initializeMemory(
        as: Unmanaged<Checked.RawSpinLock>.self, repeating: .passRetained(lock), count: 1)
      for offset in [Self.queuedOffset, Self.fallbacksOffset] {
        (memory + i * Self.stride + offset).bindMemory(to: Atomic<Int>.self, capacity: 1)
          .initialize(to: Atomic(0))
      }
    }
  }

  /// Releases the locks and the memory.
  func destroy() {
    for i in 0..<count {
      lockReference(i).pointee.release()
      state(i).pointee.cache.deallocate()
    }
    memory.deallocate()
  }

  /// CPU `i`'s state.
  @inline(__always)
  func state(_ i: Int) -> UnsafeMutablePointer<KrcState> {
    (memory + i * Self.stride).assumingMemoryBound(to: KrcState.self)
  }

  /// Runs `body` with CPU `i`'s `&krcp->lock` held and interrupts masked
  /// (`krc_this_cpu_lock()`: `local_irq_save()`, then `raw_spin_lock()`).
  /// Every acquisition of the lock is made so: `kvfreeRCU(_:head:)` may
  /// run in a hard interrupt, so the lock must be irq-safe everywhere.
  @inline(__always)
  func withLock<R>(_ i: Int, _ body: () -> R) -> R {
    Checked.withInterruptsMasked {
      lockReference(i).pointee._withUnsafeGuaranteedRef { $0.lock() }
      defer { lockReference(i).pointee._withUnsafeGuaranteedRef { $0.unlock() } }
      return body()
    }
  }

  /// CPU `i`'s lock.
  @inline(__always)
  func lockReference(_ i: Int) -> UnsafeMutablePointer<Unmanaged<Checked.RawSpinLock>> {
    (memory + i * Self.stride + Self.lockOffset).assumingMemoryBound(
      to: Unmanaged<Checked.RawSpinLock>.self)
  }

  /// Counts one object queued with a head on CPU `i` (and one on its list
  /// when `fallback`). Caller holds CPU `i`'s lock.
  @inline(__always)
  func countQueued(_ i: Int, fallback: Bool) {
    bump(i, Self.queuedOffset)
    if fallback { bump(i, Self.fallbacksOffset) }
  }

  @inline(__always)
  private func bump(_ i: Int, _ offset: Int) {
    let counter = (memory + i * Self.stride + offset).assumingMemoryBound(to: Atomic<Int>.self)
    counter.pointee.store(counter.pointee.load(ordering: .relaxed) &+ 1, ordering: .relaxed)
  }

  /// Objects queued with a head and list fallbacks, summed over every CPU.
  func totals() -> (queued: Int, fallbacks: Int) {
    var queued = 0
    var fallbacks = 0
    for i in 0..<count {
      let at = memory + i * Self.stride
      queued &+= (at + Self.queuedOffset).assumingMemoryBound(to: Atomic<Int>.self).pointee.load(
        ordering: .relaxed)
      fallbacks &+= (at + Self.fallbacksOffset).assumingMemoryBound(to: Atomic<Int>.self).pointee
        .load(ordering: .relaxed)
    }
    return (queued, fallbacks)
  }
}
