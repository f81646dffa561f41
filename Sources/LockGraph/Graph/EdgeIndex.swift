/// The graph's edges by class pair: an open-addressing hash table of pair
/// keys, with a multiplicative hash. Every new chain looks its
/// dependencies up here (a lookup per edge), so this replaces a
/// `Dictionary`, whose SipHash cost more than the rest of the lookup.
///
/// The hash is multiply-shift with a random odd multiplier per table (the
/// top bits of `key * multiplier`), under which two keys share a home
/// slot with probability at most 2 / `slots.count` whatever the keys
/// (Dietzfelbinger et al., 1997): a trace cannot choose class pairs that
/// pile onto one run of slots, as it could with a fixed multiplier (76,000
/// chosen edges took 13 s, 20 times as long as as many random ones).
///
/// Each slot is one word, the pair key and the edge's kinds side by side
/// (`packed`), and the edge's index sits in a parallel array: a lookup that
/// finds an edge whose kinds cover the new dependency's, the common case of
/// a new chain, reads one 8-byte slot and nothing else, and the table of a
/// few thousand edges stays in the first-level cache.
///
/// A slot also records which of its kinds a new chain re-checked without
/// a finding (`isChecked`, `markChecked`) and when: the low 16 bits of the
/// graph's `version` then, so that a check counts only while nothing a
/// search reads changed (`DependencyGraph.version`).
///
/// Invariants: `slots.count` is a power of two at least twice `count`
/// (linear probing always finds an empty slot); an empty slot is `empty`,
/// which no packed key equals (class ids are below 2^20, so a pair takes
/// 40 bits, 8 to 47, all set only for class 2^20-1 to itself, an edge
/// whose kinds are SR alone, never all four); a slot's kinds
/// (bits 0 to 3) are its edge's (`DependencyGraph` updates both), its
/// checked kinds (bits 4 to 7) are a subset of them, checked at the version
/// in bits 48 to 63; `edges[i]` is the edge of `slots[i]`.
struct EdgeIndex: Sendable {
  private static let empty = UInt64.max
  /// The pair key's bits of a slot.
  private static let keyMask: UInt64 = 0x0000_FFFF_FFFF_FF00
  /// The checked kinds' and their version's bits of a slot.
  private static let checkMask: UInt64 = 0xFFFF_0000_0000_00F0

  private var slots = [UInt64](repeating: EdgeIndex.empty, count: 64)
  private var edges = [Int32](repeating: -1, count: 64)
  private var count = 0
  /// `64 - log2(slots.count)`: a key's home slot is the top bits of its
  /// product with `multiplier`.
  private var shift: UInt64 = 58
  /// The hash's odd multiplier, drawn at random for each table.
  private let multiplier = UInt64.random(in: 0 ... .max) | 1

  /// Pair key `key` (two class ids below 2^20, `DependencyGraph.pairKey`)
  /// in the 40 bits above the kinds' 8.
  @inline(__always)
  private static func packed(_ key: UInt64, _ kinds: DependencyKinds) -> UInt64 {
    assert(key >> 52 == 0 && key & 0xFFF0_0000 == 0, "a class id past the class table")
    return ((key >> 32) << 20 | key & 0xF_FFFF) << 8 | UInt64(kinds.rawValue)
  }

  @inline(__always)
  private func slot(_ pair: UInt64) -> Int {
    Int(truncatingIfNeeded: (pair &* multiplier) &>> shift)
  }

  /// The slot index of pair `key`, if present.
  @inline(__always)
  private func position(_ key: UInt64) -> Int? {
    let pair = Self.packed(key, DependencyKinds(rawValue: 0))
    var i = slot(pair)
    while true {
      let k = slots[i]
      // Empty first: its key bits are the pair of class 2^20-1 with itself.
      if k == Self.empty { return nil }
      if k & Self.keyMask == pair { return i }
      i = (i &+ 1) & (slots.count &- 1)
    }
  }

  /// How many slots a lookup of pair `key` reads (the tests of the hash's
  /// spread ask).
  func probeLength(_ key: UInt64) -> Int {
    let pair = Self.packed(key, DependencyKinds(rawValue: 0))
    var i = slot(pair)
    var probes = 1
    while slots[i] != Self.empty && slots[i] & Self.keyMask != pair {
      i = (i &+ 1) & (slots.count &- 1)
      probes += 1
    }
    return probes
  }

  /// The edge of pair `key`, if any.
  @inline(__always)
  func find(_ key: UInt64) -> Int32? {
    position(key).map { edges[$0] }
  }

  /// Whether pair `key` has an edge with every kind of `kinds`: reads the
  /// slots only.
  @inline(__always)
  func covers(_ key: UInt64, kinds: DependencyKinds) -> Bool {
    guard let i = position(key) else { return false }
    return UInt8(truncatingIfNeeded: slots[i]) & kinds.rawValue == kinds.rawValue
  }

  /// Whether pair `key` has an edge with every kind of `kinds`, each of
  /// them checked at `version` (`markChecked`): reads the slots only.
  @inline(__always)
  func isChecked(_ key: UInt64, kinds: DependencyKinds, version: UInt16) -> Bool {
    guard let i = position(key) else { return false }
    let s = slots[i]
    let wanted = UInt64(kinds.rawValue) << 4
    return UInt16(truncatingIfNeeded: s >> 48) == version && s & wanted == wanted
  }

  /// Records that pair `key`'s `kinds` (which its edge has) were checked
  /// at `version`; those checked at an earlier one are forgotten.
  mutating func markChecked(_ key: UInt64, kinds: DependencyKinds, version: UInt16) {
    guard let i = position(key) else { return }
    var s = slots[i]
    if UInt16(truncatingIfNeeded: s >> 48) != version { s &= ~Self.checkMask }
    s = s & 0x0000_FFFF_FFFF_FFFF | UInt64(version) << 48 | UInt64(kinds.rawValue) << 4
    slots[i] = s
  }

  /// Forgets every check (when the 16-bit version wraps round).
  mutating func forgetChecks() {
    for i in slots.indices where slots[i] != Self.empty { slots[i] &= ~Self.checkMask }
  }

  /// Records edge `edge` of `kinds` for pair `key` (not present yet).
  mutating func insert(_ key: UInt64, _ edge: Int32, kinds: DependencyKinds) {
    if (count + 1) * 2 > slots.count { grow() }
    store(Self.packed(key, kinds), edge)
  }

  /// Stores packed slot `value` of edge `edge` in the first empty slot of
  /// its probe sequence.
  private mutating func store(_ value: UInt64, _ edge: Int32) {
    var i = slot(value & Self.keyMask)
    while slots[i] != Self.empty { i = (i &+ 1) & (slots.count &- 1) }
    slots[i] = value
    edges[i] = edge
    count += 1
  }

  /// Adds `kinds` to the kinds of pair `key`'s edge and returns the edge;
  /// nil, changing nothing, when the pair has none.
  mutating func addKinds(_ kinds: DependencyKinds, to key: UInt64) -> Int32? {
    guard let i = position(key) else { return nil }
    slots[i] |= UInt64(kinds.rawValue)
    return edges[i]
  }

  private mutating func grow() {
    let oldSlots = slots
    let oldEdges = edges
    slots = [UInt64](repeating: Self.empty, count: oldSlots.count * 2)
    edges = [Int32](repeating: -1, count: oldSlots.count * 2)
    shift -= 1
    count = 0
    for (i, s) in oldSlots.enumerated() where s != Self.empty { store(s, oldEdges[i]) }
  }
}
