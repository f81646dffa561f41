/// The graph's edges by class pair: an open-addressing hash table of
/// 64-bit pair keys, with a multiplicative hash. Every new chain looks its
/// dependencies up here (a lookup per edge), so this replaces a
/// `Dictionary`, whose SipHash cost more than the rest of the lookup.
///
/// Each slot holds its key, its edge and the edge's kinds side by side
/// (16 bytes): a lookup that finds an edge whose kinds cover the new
/// dependency's, the common case of a new chain, reads one cache line of
/// the index and nothing of the edge list.
///
/// Invariants: `slots.count` is a power of two at least twice `count`
/// (linear probing always finds an empty slot); an empty slot's key is
/// `empty`, which no pair key equals (class ids are below 2^31); a slot's
/// kinds are its edge's (`DependencyGraph` updates both).
struct EdgeIndex: Sendable {
  private static let empty = UInt64.max

  struct Slot: Sendable {
    var key: UInt64
    var edge: Int32
    var kinds: DependencyKinds
  }

  private var slots = [Slot](
    repeating: Slot(key: EdgeIndex.empty, edge: -1, kinds: DependencyKinds(rawValue: 0)),
    count: 64)
  private var count = 0

  @inline(__always)
  private func slot(_ key: UInt64) -> Int {
    Int(truncatingIfNeeded: (key &* 0x9E37_79B9_7F4A_7C15) >> 32) & (slots.count &- 1)
  }

  /// The slot index of pair `key`, if present.
  @inline(__always)
  private func position(_ key: UInt64) -> Int? {
    var i = slot(key)
    while true {
      let k = slots[i].key
      if k == key { return i }
      if k == Self.empty { return nil }
      i = (i &+ 1) & (slots.count &- 1)
    }
  }

  /// The edge of pair `key`, if any.
  @inline(__always)
  func find(_ key: UInt64) -> Int32? {
    position(key).map { slots[$0].edge }
  }

  /// The edge of pair `key` and its kinds, if any.
  @inline(__always)
  func findWithKinds(_ key: UInt64) -> (edge: Int32, kinds: DependencyKinds)? {
    guard let i = position(key) else { return nil }
    return (slots[i].edge, slots[i].kinds)
  }

  /// Records edge `edge` of `kinds` for pair `key` (not present yet).
  mutating func insert(_ key: UInt64, _ edge: Int32, kinds: DependencyKinds) {
    if (count + 1) * 2 > slots.count { grow() }
    var i = slot(key)
    while slots[i].key != Self.empty { i = (i &+ 1) & (slots.count &- 1) }
    slots[i] = Slot(key: key, edge: edge, kinds: kinds)
    count += 1
  }

  /// Adds `kinds` to the kinds of pair `key`'s edge and returns the edge;
  /// nil, changing nothing, when the pair has none.
  mutating func addKinds(_ kinds: DependencyKinds, to key: UInt64) -> Int32? {
    guard let i = position(key) else { return nil }
    slots[i].kinds.formUnion(kinds)
    return slots[i].edge
  }

  private mutating func grow() {
    let old = slots
    slots = [Slot](
      repeating: Slot(key: Self.empty, edge: -1, kinds: DependencyKinds(rawValue: 0)),
      count: old.count * 2)
    count = 0
    for s in old where s.key != Self.empty { insert(s.key, s.edge, kinds: s.kinds) }
  }
}
