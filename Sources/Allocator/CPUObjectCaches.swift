import Lockdep
import Synchronization

/// One CPU's cache of free objects of one size class (SLUB's `struct
/// kmem_cache_cpu`, SLAB's `array_cache`), under its `lock`, which the
/// kmalloc and kfree paths take only with `tryLock()`: a caller that finds
/// it busy uses the size class directly. Never held together with a
/// size-class lock (objects move between the two through a local buffer),
/// so the two never nest.
///
/// Invariant, under `lock`: `objects[0..<count]` are free objects of the
/// class, each marked not free in its slab and on no other cache.
struct CPUCacheSlot {
  /// `s->cpu_slab->lock`: a `local_lock_t`, retained by `CPUObjectCaches`.
  var count: Int
  let objects: UnsafeMutablePointer<UnsafeMutableRawPointer>
}

/// Every CPU's object cache of every size class, CPU-major, each in a cache
/// line of its own (no two CPUs write one line), with a counter of objects
/// handed out through it minus those freed through it (`inUse`), written
/// only under the cache's lock (a plain load and store, no atomic
/// read-modify-write) and read by anyone.
///
/// Raw memory and unmanaged locks, so that the kmalloc and kfree fast paths
/// do no reference counting and no exclusivity check.
final class CPUObjectCaches: @unchecked Sendable {
  /// Objects a cache holds at most.
  static let capacity = 32
  /// Bytes between two slots: one cache line.
  private static let stride = 64
  private static let inUseOffset = 32
  /// The slot's lock, beside (not in) the fields it guards: `tryLock`
  /// reads it without holding it, which must not overlap an access to the
  /// guarded struct (ThreadSanitizer: a Swift access race).
  private static let lockOffset = 40

  let slotCount: Int
  private let memory: UnsafeMutableRawPointer

  init(slots: Int) {
    precondition(MemoryLayout<CPUCacheSlot>.size <= Self.inUseOffset)
    slotCount = slots
    memory = .allocate(byteCount: slots * Self.stride, alignment: Self.stride)
    for i in 0..<slots {
      let lock = Checked.LocalLock(
        name: "&s->cpu_slab->lock", key: LockClassKey("&s->cpu_slab->lock"))
      (memory + i * Self.stride).initializeMemory(
        as: CPUCacheSlot.self,
        repeating: CPUCacheSlot(count: 0, objects: .allocate(capacity: Self.capacity)),
        count: 1)
      (memory + i * Self.stride + Self.lockOffset).initializeMemory(
        as: Unmanaged<Checked.LocalLock>.self, repeating: .passRetained(lock), count: 1)
      (memory + i * Self.stride + Self.inUseOffset).bindMemory(to: Atomic<Int>.self, capacity: 1)
        .initialize(to: Atomic(0))
    }
  }

  deinit {
    for i in 0..<slotCount {
      let slot = self.slot(i)
      lockReference(i).pointee.release()
      slot.pointee.objects.deallocate()
    }
    memory.deallocate()
  }

  /// Slot `i`.
  @inline(__always)
  func slot(_ i: Int) -> UnsafeMutablePointer<CPUCacheSlot> {
    (memory + i * Self.stride).assumingMemoryBound(to: CPUCacheSlot.self)
  }

  /// Slot `i`'s counter of objects handed out minus freed through it.
  @inline(__always)
  func inUse(_ i: Int) -> UnsafeMutablePointer<Atomic<Int>> {
    (memory + i * Self.stride + Self.inUseOffset).assumingMemoryBound(to: Atomic<Int>.self)
  }

  /// Adds `delta` to slot `i`'s counter. Caller holds the slot's lock.
  @inline(__always)
  func countInUse(_ i: Int, _ delta: Int) {
    let counter = inUse(i)
    counter.pointee.store(counter.pointee.load(ordering: .relaxed) &+ delta, ordering: .relaxed)
  }

  /// The sum of every slot's counter.
  func totalInUse() -> Int {
    var total = 0
    for i in 0..<slotCount { total &+= inUse(i).pointee.load(ordering: .relaxed) }
    return total
  }

  /// Takes slot `i`'s lock if it is free now.
  @inline(__always)
  func tryLock(_ i: Int) -> Bool {
    lockReference(i).pointee._withUnsafeGuaranteedRef { $0.tryLock() }
  }

  /// The slots' locks' class as a map, for a check of an acquisition that
  /// waits for one, which `tryLock` is not checked as (a trylock cannot
  /// wait: no dependency, no wait context, no sleep): taken and released
  /// at once, it is checked as the lock taken, dependencies, wait context
  /// and, on PREEMPT_RT, the sleep of a `local_lock_t` (`rt_spin_lock()`'s
  /// `rtlock_might_resched()`), which `mightLock` (`might_lock()`) does not
  /// check, without waiting for the slot (a signal handler may interrupt
  /// its holder).
  let waitingAcquisition = Checked.LockdepMap(
    .localLock, name: "&s->cpu_slab->lock", key: LockClassKey("&s->cpu_slab->lock"))

  /// Slot `i`'s lock.
  @inline(__always)
  private func lockReference(_ i: Int) -> UnsafeMutablePointer<Unmanaged<Checked.LocalLock>> {
    (memory + i * Self.stride + Self.lockOffset).assumingMemoryBound(
      to: Unmanaged<Checked.LocalLock>.self)
  }

  /// Takes slot `i`'s lock, waiting for it.
  func lock(_ i: Int) { lockReference(i).pointee._withUnsafeGuaranteedRef { $0.lock() } }

  /// Drops slot `i`'s lock.
  @inline(__always)
  func unlock(_ i: Int) { lockReference(i).pointee._withUnsafeGuaranteedRef { $0.unlock() } }
}
