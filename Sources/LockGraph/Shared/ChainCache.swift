import Synchronization

#if canImport(Glibc)
  import Glibc
#endif

/// The chain cache: chain keys already validated (lockdep's
/// `chainhash_table`), read by every thread without a lock, in a fixed
/// memory budget.
///
/// The table is set-associative: a key may only live in the bucket its low
/// bits name, a bucket is eight keys (one 64-byte cache line), and a full
/// bucket evicts one of its keys to take a new one. Evicting costs only a
/// re-validation of that chain, which finds what it found before (the
/// graph only grows). Keys are already well-mixed 64-bit hashes.
///
/// Invariants: a slot holds 0 (empty) or a key that was inserted (a key of
/// 0 is stored as 1); no slot is ever emptied, so `count` equal to the
/// number of slots means every bucket is full (`insertNew` relies on it);
/// slots are written only by `insert` and `insertNew`, which the
/// validator calls under its shared lock, and read with relaxed atomic
/// loads, so a reader sees either the old or the new key of a slot, never a
/// torn one. A lookup writes nothing.
public final class ChainCache: @unchecked Sendable {
  /// Keys per bucket: 8 × 8 bytes, one cache line.
  @inlinable static var ways: Int { 8 }
  /// The default budget: 1 MiB (131,072 chains). A live program's: there a
  /// miss takes the validator's lock and captures a stack.
  public static let defaultBytes = 1 << 20
  /// The budget of a trace's validator (`LockValidator`): 256 KiB (32,768
  /// chains), which stays in a core's second-level cache. There a miss whose
  /// dependencies exist costs an edge lookup, less than a lookup that
  /// misses the second-level cache: on 10 M events where few chains repeat
  /// (`generate --shape low-reuse`), 256 KiB read the binary trace at 11.9
  /// rather than 10.4 M events/s (the text one at 7.7 rather than 6.9), at
  /// 24.3 rather than 27.0 % hits; on repeating chains it hit 99.66 rather
  /// than 99.76 % at the same speed; 128 KiB lost hits there (96.5 % at 2 M
  /// events).
  public static let offlineBytes = 1 << 18

  private let slots: UnsafeMutablePointer<Atomic<UInt64>>
  private let bucketMask: Int
  /// Whether `slots` is an anonymous mapping of its own (else allocated).
  private let isMapped: Bool
  // Written only under the validator's shared lock, which is their
  // exclusivity guarantee (no dynamic check per access).
  /// Which way of a full bucket the next eviction takes (under the lock).
  @exclusivity(unchecked) private var nextVictim = 0
  /// Keys stored (under the lock; for statistics, and for `insertNew`,
  /// which evicts without reading a bucket once every slot is taken).
  @exclusivity(unchecked) public private(set) var count = 0
  /// Keys evicted to make room (under the lock; for statistics).
  @exclusivity(unchecked) public private(set) var evictions: Int64 = 0

  /// A cache of at most `bytes` (rounded down to a power of two, at least
  /// one bucket).
  public init(bytes: Int = ChainCache.defaultBytes) {
    var buckets = 1
    while buckets * 2 * Self.ways * 8 <= bytes { buckets *= 2 }
    bucketMask = buckets - 1
    let n = buckets * Self.ways
    let byteCount = n * MemoryLayout<Atomic<UInt64>>.stride
    // Anonymous pages read as zeros, `Atomic(0)`'s representation, and
    // only the pages a run touches are ever faulted in: a trace of a few
    // events no longer writes 256 KiB of zeros (`report` of 16,000 small
    // traces spent half its time there).
    let mapped = mmap(nil, byteCount, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0)
    if let mapped, mapped != MAP_FAILED {
      slots = mapped.bindMemory(to: Atomic<UInt64>.self, capacity: n)
      isMapped = true
    } else {
      let raw = UnsafeMutableRawPointer.allocate(byteCount: byteCount, alignment: 64)
      slots = raw.bindMemory(to: Atomic<UInt64>.self, capacity: n)
      for i in 0..<n { (slots + i).initialize(to: Atomic(0)) }
      isMapped = false
    }
  }

  deinit {
    let n = (bucketMask + 1) * Self.ways
    if isMapped {
      munmap(slots, n * MemoryLayout<Atomic<UInt64>>.stride)
    } else {
      slots.deinitialize(count: n)
      UnsafeMutableRawPointer(slots).deallocate()
    }
  }

  /// The budget in bytes.
  public var bytes: Int { (bucketMask + 1) * Self.ways * 8 }

  @inline(__always)
  private static func stored(_ key: UInt64) -> UInt64 { key == 0 ? 1 : key }

  /// Whether `key` was validated before. Reads one cache line, writes nothing.
  @inline(__always)
  public func contains(_ key: UInt64) -> Bool {
    let k = Self.stored(key)
    let base = slots + (Int(truncatingIfNeeded: k) & bucketMask) &* Self.ways
    for i in 0..<Self.ways where base[i].load(ordering: .relaxed) == k { return true }
    return false
  }

  /// A view for lookups that costs no reference counting; valid while the
  /// cache lives.
  public var lookup: ChainLookup { ChainLookup(slots: slots, bucketMask: bucketMask) }

  /// Records `key` as validated. Call only under the validator's shared lock.
  func insert(_ key: UInt64) {
    let k = Self.stored(key)
    let base = slots + (Int(truncatingIfNeeded: k) & bucketMask) &* Self.ways
    insert(k, at: base, known: false)
  }

  /// `insert(_:)` of a key looked up and missed under the same hold of the
  /// shared lock (a trace's batch), so not in the cache: once every slot is
  /// taken (no slot is ever emptied), it evicts without reading the bucket.
  @inline(__always)
  func insertNew(_ key: UInt64) {
    let k = Self.stored(key)
    let base = slots + (Int(truncatingIfNeeded: k) & bucketMask) &* Self.ways
    insert(k, at: base, known: count == (bucketMask + 1) &* Self.ways)
  }

  /// Stores `k` in the bucket at `base`: in an empty slot, or over the next
  /// victim when the bucket is full (`full`: known to be, without looking).
  @inline(__always)
  private func insert(_ k: UInt64, at base: UnsafeMutablePointer<Atomic<UInt64>>, known full: Bool)
  {
    if !full {
      for i in 0..<Self.ways {
        let s = base[i].load(ordering: .relaxed)
        if s == k { return }
        if s == 0 {
          base[i].store(k, ordering: .relaxed)
          count += 1
          return
        }
      }
    }
    base[nextVictim].store(k, ordering: .relaxed)
    nextVictim = (nextVictim + 1) & (Self.ways - 1)
    evictions += 1
  }
}

/// Lookups in a `ChainCache` through its raw table, for the fast path: no
/// reference counting on the shared cache object.
public struct ChainLookup: @unchecked Sendable {
  @usableFromInline let slots: UnsafeMutablePointer<Atomic<UInt64>>
  @usableFromInline let bucketMask: Int

  /// Whether `key` was validated before. Reads one cache line, writes nothing.
  @inlinable @inline(__always)
  public func contains(_ key: UInt64) -> Bool {
    let k = key == 0 ? 1 : key
    let base = slots + (Int(truncatingIfNeeded: k) & bucketMask) &* ChainCache.ways
    for i in 0..<ChainCache.ways where base[i].load(ordering: .relaxed) == k { return true }
    return false
  }

  /// `contains(_:)` without a branch per way: the bucket's eight keys are
  /// all compared, and only the answer is branched on. For a trace's
  /// validator, whose chains hit at any way of their bucket, where the
  /// early exit's branches mispredict about once a lookup (a live thread's
  /// hits mostly come from its `ChainMemo` instead). The caller must hold
  /// the core's shared lock, under which alone the cache is written: the
  /// bucket is read with plain (vector) loads, not atomic ones.
  @inlinable @inline(__always)
  public func containsBranchFree(_ key: UInt64) -> Bool {
    let k = key == 0 ? 1 : key
    let base = slots + (Int(truncatingIfNeeded: k) & bucketMask) &* ChainCache.ways
    // The bucket's 64 bytes as four pairs of keys, compared with vector
    // instructions (two lanes a compare; a bucket is 64-byte aligned): 24
    // instructions on x86-64's baseline SSE2 where eight loads, xors and
    // `min`s took 38. Plain loads of the atomics' storage: the callers
    // (`acquireInBatch`, `acquireInBatchInContext`) hold the validator's
    // shared lock, under which alone slots are written, so no store races
    // them.
    assert(ChainCache.ways == 8, "the probe reads a bucket as four pairs of keys")
    let raw = UnsafeRawPointer(base)
    let kk = SIMD2<UInt64>(repeating: k)
    let a = raw.load(as: SIMD2<UInt64>.self) .== kk
    let b = raw.load(fromByteOffset: 16, as: SIMD2<UInt64>.self) .== kk
    let c = raw.load(fromByteOffset: 32, as: SIMD2<UInt64>.self) .== kk
    let d = raw.load(fromByteOffset: 48, as: SIMD2<UInt64>.self) .== kk
    return any((a .| b) .| (c .| d))
  }
}
