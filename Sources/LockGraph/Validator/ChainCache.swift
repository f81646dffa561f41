/// The chain cache: the set of chain keys already validated (lockdep's
/// `chainhash_table`). Keys are already well-mixed 64-bit hashes, so an
/// open-addressing table indexed by their low bits needs no further hashing.
///
/// Invariant: `slots` has a power-of-two count, is at most half full, and
/// 0 marks an empty slot (a key of 0 is stored as 1; a collision between the
/// two is as unlikely as any other 64-bit collision).
struct ChainCache: Sendable {
  private var slots = [UInt64](repeating: 0, count: 1024)
  private(set) var count = 0

  @inline(__always)
  private static func stored(_ key: UInt64) -> UInt64 { key == 0 ? 1 : key }

  @inline(__always)
  func contains(_ key: UInt64) -> Bool {
    let k = Self.stored(key)
    let mask = slots.count - 1
    var i = Int(truncatingIfNeeded: k) & mask
    while true {
      let s = slots[i]
      if s == k { return true }
      if s == 0 { return false }
      i = (i + 1) & mask
    }
  }

  mutating func insert(_ key: UInt64) {
    if (count + 1) * 2 > slots.count { grow() }
    if place(Self.stored(key)) { count += 1 }
  }

  private mutating func place(_ k: UInt64) -> Bool {
    let mask = slots.count - 1
    var i = Int(truncatingIfNeeded: k) & mask
    while slots[i] != 0 {
      if slots[i] == k { return false }
      i = (i + 1) & mask
    }
    slots[i] = k
    return true
  }

  private mutating func grow() {
    let old = slots
    slots = [UInt64](repeating: 0, count: old.count * 2)
    for k in old where k != 0 { _ = place(k) }
  }
}
