/// The keyed hash a table turns to when its fast, unkeyed hash lets a
/// trace pile its keys onto one run of slots.
///
/// A trace is input the validator does not choose: its class and thread
/// tokens, its stacks and its class pairs are the keys of hash tables
/// whose fast hashes are public, so a trace can be made whose keys all
/// hash alike, and each lookup then probes all of them (quadratic time:
/// tens of seconds for a few megabytes). After each insertion a table
/// measures the run of filled slots the new key joined (a lookup that
/// misses walks all of it, one that hits up to its key), and past its
/// limit hashes every key again with `Hasher` (SipHash, keyed at random
/// per process), as Rust's and Python's tables hash input. The limits are
/// above the longest run random hashes make (about ln(n) / (a - 1 - ln a)
/// slots at load a: 72 for a million keys at a half, 370 at three
/// quarters), so an ordinary trace keeps the fast hash.
enum KeyedHashing {
  /// The longest run of filled slots a table at most half full keeps
  /// before it turns to the keyed hash.
  static let halfFullRunLimit = 128
  /// The same for a table at most three quarters full.
  static let threeQuartersFullRunLimit = 1024

  /// The length of the run of filled slots of a table of `count` slots
  /// (a power of two, probed upwards, wrapping) that filled slot `i` is
  /// in, counted up to one past `limit`.
  static func runLength(at i: Int, count: Int, limit: Int, isFilled: (Int) -> Bool) -> Int {
    let mask = count - 1
    var length = 1
    var j = (i - 1) & mask
    while length <= limit && isFilled(j) {
      length += 1
      j = (j - 1) & mask
    }
    j = (i + 1) & mask
    while length <= limit && isFilled(j) {
      length += 1
      j = (j + 1) & mask
    }
    return length
  }

  /// The keyed hash of `bytes`.
  static func hash(_ bytes: UnsafeRawBufferPointer) -> UInt64 {
    var hasher = Hasher()
    hasher.combine(bytes: bytes)
    return UInt64(UInt(bitPattern: hasher.finalize()))
  }

  /// The keyed hash of a list of addresses.
  static func hash(_ addresses: [UInt64]) -> UInt64 {
    addresses.withUnsafeBytes { hash($0) }
  }
}
