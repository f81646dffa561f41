/// Interns byte strings to small integers without creating `String`s, for
/// the tokens a trace repeats on every line (thread, class and stack ids).
///
/// Invariant: open addressing with linear probing over a power-of-two
/// table kept at most half full; `keys` holds every key's bytes back to back.
struct TokenTable {
  /// One key: where its bytes are in `keys`, and its value.
  private struct Entry {
    var hash: UInt64
    var start: Int
    var length: Int
    var value: Int32
  }
  private var slots: [Int32]
  private var entries: [Entry] = []
  private var keys: [UInt8] = []

  init() { slots = Array(repeating: -1, count: 64) }

  var count: Int { entries.count }

  /// The hash before `hash(_:)`'s last step, for hashing a byte at a time.
  static let seed: UInt64 = 0xcbf2_9ce4_8422_2325

  /// `h` with one more byte.
  @inline(__always)
  static func mix(_ h: UInt64, _ byte: UInt8) -> UInt64 {
    (h ^ UInt64(byte)) &* 0x0000_0100_0000_01b3
  }

  /// The hash of bytes mixed into `h` from `seed`.
  @inline(__always)
  static func finish(_ h: UInt64) -> UInt64 { h ^ (h >> 29) }

  @inline(__always)
  static func hash(_ bytes: UnsafeRawBufferPointer) -> UInt64 {
    var h = seed
    for b in bytes { h = mix(h, b) }
    return finish(h)
  }

  /// The value stored for `bytes`, if any.
  @inline(__always)
  func find(_ bytes: UnsafeRawBufferPointer) -> Int32? { find(bytes, hash: Self.hash(bytes)) }

  /// The value stored for `bytes`, whose `hash(_:)` is `h`, if any.
  @inline(__always)
  func find(_ bytes: UnsafeRawBufferPointer, hash h: UInt64) -> Int32? {
    slots.withUnsafeBufferPointer { slots in
      entries.withUnsafeBufferPointer { entries in
        keys.withUnsafeBytes { keys in
          let mask = slots.count - 1
          var i = Int(truncatingIfNeeded: h) & mask
          while true {
            let s = slots[i]
            if s < 0 { return nil }
            let e = entries[Int(s)]
            if e.hash == h && e.length == bytes.count
              && (e.length == 0
                || memcmpBytes(keys.baseAddress! + e.start, bytes.baseAddress!, e.length))
            {
              return e.value
            }
            i = (i + 1) & mask
          }
        }
      }
    }
  }

  /// The value stored for `key`'s UTF-8 bytes, if any.
  func find(_ key: String) -> Int32? {
    var copy = key
    return copy.withUTF8 { find(UnsafeRawBufferPointer($0)) }
  }

  /// Stores `value` for `key`'s UTF-8 bytes (which must not be present yet).
  mutating func insert(_ key: String, value: Int32) {
    var copy = key
    copy.withUTF8 { insert(UnsafeRawBufferPointer($0), value: value) }
  }

  /// Stores `key` (with value 0) unless it is present: whether it was new.
  /// For a set of keys, each of which may be declared once.
  mutating func insertNew(_ key: String) -> Bool {
    if find(key) != nil { return false }
    insert(key, value: 0)
    return true
  }

  /// Stores `value` for `bytes` (which must not be present yet).
  mutating func insert(_ bytes: UnsafeRawBufferPointer, value: Int32) {
    if (entries.count + 1) * 2 > slots.count { grow() }
    let h = Self.hash(bytes)
    let e = Int32(entries.count)
    entries.append(Entry(hash: h, start: keys.count, length: bytes.count, value: value))
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
    for e in entries.indices { place(Int32(e), hash: entries[e].hash) }
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
