/// An index of a trace's stacks by their addresses, for interning them
/// (`TraceSymbols.internStack`): open addressing over the stacks' own
/// array. A slot holds a stack's index and the high half of its hash, so
/// probing compares hashes without reading the stacks, and growing moves
/// slots without hashing a stack again. Each list is hashed once, a
/// multiply a word. (A `Dictionary` keyed by the lists, or by their
/// hashes, spent a microsecond a stack in SipHash and rehashing, and
/// re-reading every stack as the table grew missed the cache: a trace of
/// a million distinct stacks read two to four times slower.)
///
/// A stack's home slot is named by the top bits of its hash, so that
/// doubling the table sends the slots of one half to neighbouring slots
/// in order: growing writes the new table nearly front to back, where
/// homes named by the low bits scattered every move over the whole table
/// (a cache miss each, once the table outgrows the cache).
///
/// The hash has no key, so a trace can declare stacks that all hash alike
/// (100,000 took 24 s), or fill one long run of slots: an insertion whose
/// stack joins a run of more than `KeyedHashing.threeQuartersFullRunLimit`
/// filled slots makes the index hash with the keyed hash from then on
/// (`isKeyed`).
///
/// Invariants: `slots.count` is `1 << (32 - shift)`, and at most three
/// quarters of the slots are used; a slot is 0 (empty) or `index + 1`
/// in its low half and its stack's `hash >> 32` in its high half, found
/// from its home slot (`home`) by linear probing.
struct StackIndex: Sendable {
  private var slots: [UInt64] = Array(repeating: 0, count: 16)
  private var shift: UInt64 = 28
  private var count = 0
  /// Whether stacks are hashed with `KeyedHashing.hash`, not `hash`.
  private(set) var isKeyed = false

  /// The index in `stacks` of a list equal to `addresses`, or nil; and
  /// the hash that `insert` takes.
  func find(_ addresses: [UInt64], in stacks: [[UInt64]]) -> (index: Int32?, hash: UInt64) {
    let hash = isKeyed ? KeyedHashing.hash(addresses) : Self.hash(addresses)
    let high = hash >> 32
    let mask = slots.count - 1
    var i = home(high)
    while slots[i] != 0 {
      let slot = slots[i]
      if slot >> 32 == high {
        let index = Int(truncatingIfNeeded: slot & 0xFFFF_FFFF) - 1
        if stacks[index] == addresses { return (Int32(index), hash) }
      }
      i = (i + 1) & mask
    }
    return (nil, hash)
  }

  /// Indexes the stack `index` of `stacks` with `hash` (from `find`,
  /// which did not find it).
  mutating func insert(_ index: Int32, hash: UInt64, of stacks: [[UInt64]]) {
    if (count + 1) * 4 > slots.count * 3 {
      let old = slots
      slots = Array(repeating: 0, count: old.count * 2)
      shift -= 1
      for slot in old where slot != 0 { place(slot) }
    }
    let placed = place(Self.slot(index, hash: hash))
    count += 1
    let limit = KeyedHashing.threeQuartersFullRunLimit
    if !isKeyed
      && KeyedHashing.runLength(
        at: placed, count: slots.count, limit: limit, isFilled: { slots[$0] != 0 }) > limit
    {
      // Every indexed stack again, with the keyed hash.
      isKeyed = true
      slots = Array(repeating: 0, count: slots.count)
      for i in 0...Int(index) {
        place(Self.slot(Int32(i), hash: KeyedHashing.hash(stacks[i])))
      }
    }
  }

  /// The slot of stack `index` with `hash`.
  private static func slot(_ index: Int32, hash: UInt64) -> UInt64 {
    (hash >> 32) << 32 | UInt64(UInt32(bitPattern: index)) + 1
  }

  /// The home slot of a stack whose hash has high half `high`.
  private func home(_ high: UInt64) -> Int { Int(truncatingIfNeeded: high >> shift) }

  /// Puts `slot` in the first empty slot from its home, and returns that
  /// slot's position.
  @discardableResult
  private mutating func place(_ slot: UInt64) -> Int {
    let mask = slots.count - 1
    var i = home(slot >> 32)
    while slots[i] != 0 { i = (i + 1) & mask }
    slots[i] = slot
    return i
  }

  /// A 64-bit hash of a list of addresses: a multiply and a shift a word.
  static func hash(_ addresses: [UInt64]) -> UInt64 {
    var h = UInt64(truncatingIfNeeded: addresses.count) &* 0x9E37_79B9_7F4A_7C15
    for a in addresses {
      h = (h ^ a) &* 0xBF58_476D_1CE4_E5B9
      h ^= h >> 29
    }
    return h
  }
}
