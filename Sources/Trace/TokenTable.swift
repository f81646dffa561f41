/// Interns byte strings to small integers without creating `String`s, for
/// the tokens a trace repeats on every line (thread, class and stack ids).
///
/// Invariant: open addressing with linear probing over a power-of-two
/// table kept at most half full; `keys` holds every key's bytes back to back.
struct TokenTable {
  private var slots: [Int32]
  private var hashes: [UInt64] = []
  private var starts: [Int] = []
  private var lengths: [Int] = []
  private var values: [Int32] = []
  private var keys: [UInt8] = []

  init() { slots = Array(repeating: -1, count: 64) }

  var count: Int { values.count }

  @inline(__always)
  static func hash(_ bytes: UnsafeRawBufferPointer) -> UInt64 {
    var h: UInt64 = 0xcbf2_9ce4_8422_2325
    for b in bytes {
      h = (h ^ UInt64(b)) &* 0x0000_0100_0000_01b3
    }
    return h ^ (h >> 29)
  }

  /// The value stored for `bytes`, if any.
  @inline(__always)
  func find(_ bytes: UnsafeRawBufferPointer) -> Int32? {
    let h = Self.hash(bytes)
    let mask = slots.count - 1
    var i = Int(truncatingIfNeeded: h) & mask
    while true {
      let s = slots[i]
      if s < 0 { return nil }
      let e = Int(s)
      if hashes[e] == h && lengths[e] == bytes.count {
        let equal = keys.withUnsafeBytes { k in
          bytes.count == 0
            || memcmpBytes(k.baseAddress! + starts[e], bytes.baseAddress!, bytes.count)
        }
        if equal { return values[e] }
      }
      i = (i + 1) & mask
    }
  }

  /// Stores `value` for `bytes` (which must not be present yet).
  mutating func insert(_ bytes: UnsafeRawBufferPointer, value: Int32) {
    if (values.count + 1) * 2 > slots.count { grow() }
    let h = Self.hash(bytes)
    let e = Int32(values.count)
    hashes.append(h)
    starts.append(keys.count)
    lengths.append(bytes.count)
    values.append(value)
    keys.append(contentsOf: bytes)
    place(e, hash: h)
  }

  private mutating func place(_ e: Int32, hash h: UInt64) {
    let mask = slots.count - 1
    var i = Int(truncatingIfNeeded: h) & mask
    while slots[i] >= 0 { i = (i + 1) & mask }
    slots[i] = e
  }

  private mutating func grow() {
    slots = Array(repeating: -1, count: slots.count * 2)
    for e in values.indices { place(Int32(e), hash: hashes[e]) }
  }
}

@inline(__always)
func memcmpBytes(_ a: UnsafeRawPointer, _ b: UnsafeRawPointer, _ n: Int) -> Bool {
  var i = 0
  while i + 8 <= n {
    if a.loadUnaligned(fromByteOffset: i, as: UInt64.self)
      != b.loadUnaligned(fromByteOffset: i, as: UInt64.self)
    {
      return false
    }
    i += 8
  }
  while i < n {
    if a.load(fromByteOffset: i, as: UInt8.self) != b.load(fromByteOffset: i, as: UInt8.self) {
      return false
    }
    i += 1
  }
  return true
}
