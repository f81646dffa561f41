/// The outcome of a thread's recent fast-path acquisitions, one per slot
/// (the class id's low bits): the chain key it reached and its held-lock
/// entry's packed fields (with the task state after it), for the chain key
/// before it, the class, the read mode and the task state before it.
///
/// A hit skips what the fast path would find unchanged: the class's
/// `TaskTransitions`, its usage bits and the chain-key hash and cache
/// probe, a chain of dependent loads and multiplies that a lock taken
/// again and again in the same place (a loop's lock, one under the same
/// outer locks) would otherwise wait on every time.
///
/// Invariants: an entry is written only after the full fast-path checks
/// passed against the thread's core for exactly its inputs, and what they
/// checked never turns back: `TaskTransitions` are fixed per class, usage
/// bits only grow, and a chain validated without a finding stays validated
/// (the graph only grows; a chain that produced a finding is never cached,
/// so never memoized). An entry is only valid for the core it was checked
/// against: the memo is cleared when the thread's validator moves to
/// another core, and starts empty with a new thread state.
@usableFromInline
struct ChainMemo: Sendable {
  @usableFromInline
  struct Entry: Sendable {
    /// The chain key before the acquisition (the segment's initial key
    /// when nothing was held).
    @usableFromInline var base: UInt64
    /// `tag(...)` of the acquisition; 0 for an empty entry.
    @usableFromInline var tag: UInt64
    /// The chain key after it.
    @usableFromInline var key: UInt64
    /// Its held-lock entry's packed fields (`HeldLock.bits`).
    @usableFromInline var bits: UInt64

    @inlinable init(base: UInt64, tag: UInt64, key: UInt64, bits: UInt64) {
      self.base = base
      self.tag = tag
      self.key = key
      self.bits = bits
    }
  }

  @usableFromInline var entries = InlineArray<4, Entry>(
    repeating: Entry(base: 0, tag: 0, key: 0, bits: 0))

  @inlinable init() {}

  /// The slot of class `cls`.
  @inlinable @inline(__always)
  static func slot(_ cls: ClassID) -> Int { Int(cls.raw & 3) }

  /// What an entry is matched on: the class, the read mode, the task state
  /// of the newest held lock, and a bit that no empty entry has.
  @inlinable @inline(__always)
  static func tag(_ cls: ClassID, read: ReadMode, before: UInt8) -> UInt64 {
    UInt64(UInt32(bitPattern: cls.raw)) | UInt64(read.rawValue) << 32
      | UInt64(before & 0xF) << 36 | 1 << 40
  }

  /// The chain key and held-lock fields after the acquisition `tag` from
  /// chain key `base`, when remembered.
  @inlinable @inline(__always)
  func lookup(base: UInt64, tag: UInt64, slot: Int) -> (key: UInt64, bits: UInt64)? {
    let entry = entries[slot]
    guard entry.base == base, entry.tag == tag else { return nil }
    return (entry.key, entry.bits)
  }

  /// Remembers a checked acquisition.
  @inlinable @inline(__always)
  mutating func remember(base: UInt64, tag: UInt64, slot: Int, key: UInt64, bits: UInt64) {
    entries[slot] = Entry(base: base, tag: tag, key: key, bits: bits)
  }
}
