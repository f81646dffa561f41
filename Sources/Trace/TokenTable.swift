/// Interns byte strings to small integers without creating `String`s, for
/// the tokens a trace repeats on every line (thread, class and stack ids,
/// and the vocabulary's words).
///
/// Keys are hashed and compared eight bytes at a time, so that
/// the text reader's event loop hashes a token in the same pass that finds
/// its end, and compares it with a key in a word or two.
///
/// The fast hash has no key, so a trace can be written whose tokens all
/// hash alike (a 4 MB one took 42 s, every lookup probing them all), or
/// fill one long run of slots: an insertion whose key joins a run of more
/// than `KeyedHashing.halfFullRunLimit` filled slots makes the table hash
/// with the process's keyed hash from then on (`isKeyed`), which no trace
/// can aim at.
///
/// Invariants: open addressing with linear probing over a power-of-two
/// table kept at most half full, indexed by the hash's top bits; every
/// entry's `hash` is its key's fast hash, or its keyed one when
/// `isKeyed`; `keys`
/// holds every key's bytes from an offset that is a multiple of 8, each
/// followed by zero bytes up to the next multiple of 8 (so a key's last
/// chunk is read as a whole word).
struct TokenTable {
  /// One key: where its bytes are in `keys`, and its value.
  private struct Entry {
    var hash: UInt64
    var start: Int
    var length: Int
    var value: Int32
  }
  private var slots: [Int32]
  /// `64 - log2(slots.count)`: a hash's slot is `hash >> shift`.
  private var shift: UInt64 = 58
  private var entries: [Entry] = []
  private var keys: [UInt8] = []
  /// Whether keys are hashed with `KeyedHashing.hash` rather than `hash`.
  private(set) var isKeyed = false

  init() { slots = Array(repeating: -1, count: 64) }

  var count: Int { entries.count }

  /// The first key longer than `prefix` that starts with it and
  /// satisfies `isWanted`, or nil (a scan of every key: for a reader's
  /// last line, not its hot path).
  func key(extending prefix: [UInt8], where isWanted: ([UInt8]) -> Bool) -> [UInt8]? {
    for e in entries
    where e.length > prefix.count
      && keys[e.start..<(e.start + prefix.count)].elementsEqual(prefix)
    {
      let key = Array(keys[e.start..<(e.start + e.length)])
      if isWanted(key) { return key }
    }
    return nil
  }

  // MARK: Hashing

  /// The hash of no chunk yet.
  static let seed: UInt64 = 0xcbf2_9ce4_8422_2325

  /// `h` with the next eight bytes of a key, read little-endian; a key's
  /// last chunk is padded with zero bytes.
  @inline(__always)
  static func mix(_ h: UInt64, chunk: UInt64) -> UInt64 {
    (h ^ chunk) &* 0x9E37_79B9_7F4A_7C15
  }

  /// The hash of a key of `length` bytes whose chunks were mixed into `h`.
  /// Its top bits depend on every bit of every chunk (a product's top
  /// bits depend on all of its factor's bits).
  @inline(__always)
  static func finish(_ h: UInt64, length: Int) -> UInt64 {
    mix(h, chunk: UInt64(truncatingIfNeeded: length))
  }

  /// The hash of `bytes`, read without going past their end.
  static func hash(_ bytes: UnsafeRawBufferPointer) -> UInt64 {
    var h = seed
    var i = 0
    while i < bytes.count {
      h = mix(h, chunk: chunk(of: bytes, at: i))
      i += 8
    }
    return finish(h, length: bytes.count)
  }

  /// The eight bytes of `bytes` from `i`, padded with zero bytes past
  /// their end, read without going past it.
  @inline(__always)
  static func chunk(of bytes: UnsafeRawBufferPointer, at i: Int) -> UInt64 {
    let base = bytes.baseAddress!
    if i + 8 <= bytes.count {
      return UInt64(littleEndian: base.loadUnaligned(fromByteOffset: i, as: UInt64.self))
    }
    var c: UInt64 = 0
    for k in i..<bytes.count {
      c |= UInt64(base.load(fromByteOffset: k, as: UInt8.self)) << (UInt64(k - i) * 8)
    }
    return c
  }

  /// The `n` low bytes of `word` (n in 1...8), the others zero.
  @inline(__always)
  static func low(_ word: UInt64, bytes n: Int) -> UInt64 {
    word & (UInt64.max &>> (UInt64(truncatingIfNeeded: 8 &- n) &* 8))
  }

  // MARK: Lookup

  /// The value stored for `bytes`, if any.
  func find(_ bytes: UnsafeRawBufferPointer) -> Int32? {
    let h = isKeyed ? KeyedHashing.hash(bytes) : Self.hash(bytes)
    return find(hash: h, length: bytes.count) { key in
      var i = 0
      while i < bytes.count {
        if key.loadUnaligned(fromByteOffset: i, as: UInt64.self)
          != Self.chunk(of: bytes, at: i).littleEndian
        {
          return false
        }
        i += 8
      }
      return true
    }
  }

  /// The value stored for the `length` bytes at `bytes`, whose `hash(_:)`
  /// is `h`, where at least `length` rounded up to a multiple of 8 bytes
  /// are readable (those past `length` are ignored): a lookup that reads
  /// whole words only.
  @inline(__always)
  func find(paddedBytes bytes: UnsafeRawPointer, length: Int, hash fast: UInt64) -> Int32? {
    let h =
      isKeyed ? KeyedHashing.hash(UnsafeRawBufferPointer(start: bytes, count: length)) : fast
    return find(hash: h, length: length) { key in
      // Whole chunks, then the last one (of 1 to 8 bytes: the length is
      // not 0 here).
      var i = 0
      while length &- i > 8 {
        if key.loadUnaligned(fromByteOffset: i, as: UInt64.self)
          != bytes.loadUnaligned(fromByteOffset: i, as: UInt64.self)
        {
          return false
        }
        i &+= 8
      }
      let tail = UInt64(littleEndian: bytes.loadUnaligned(fromByteOffset: i, as: UInt64.self))
      return key.loadUnaligned(fromByteOffset: i, as: UInt64.self)
        == Self.low(tail, bytes: length &- i).littleEndian
    }
  }

  /// The value of the key of hash `h` and `length` bytes for which `same`
  /// (given the key's first byte, 8-aligned and padded) is true.
  @inline(__always)
  private func find(hash h: UInt64, length: Int, same: (UnsafeRawPointer) -> Bool) -> Int32? {
    slots.withUnsafeBufferPointer { slots in
      entries.withUnsafeBufferPointer { entries in
        keys.withUnsafeBytes { keys in
          let mask = slots.count - 1
          var i = Int(truncatingIfNeeded: h &>> shift)
          while true {
            let s = slots[i]
            if s < 0 { return nil }
            let e = entries[Int(s)]
            if e.hash == h && e.length == length
              && (length == 0 || same(keys.baseAddress! + e.start))
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

  // MARK: Insertion

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
    let h = isKeyed ? KeyedHashing.hash(bytes) : Self.hash(bytes)
    let e = Int32(entries.count)
    entries.append(Entry(hash: h, start: keys.count, length: bytes.count, value: value))
    keys.append(contentsOf: bytes)
    // Zero bytes up to the next multiple of 8 (the invariant).
    keys.append(contentsOf: repeatElement(0, count: (8 - bytes.count % 8) % 8))
    let slot = place(e, hash: h)
    let limit = KeyedHashing.halfFullRunLimit
    if !isKeyed
      && KeyedHashing.runLength(
        at: slot, count: slots.count, limit: limit, isFilled: { slots[$0] >= 0 })
        > limit
    {
      rekey()
    }
  }

  /// Puts entry `e` in the first empty slot from its hash's, and returns
  /// that slot.
  @discardableResult
  private mutating func place(_ e: Int32, hash h: UInt64) -> Int {
    let mask = slots.count - 1
    var i = Int(truncatingIfNeeded: h &>> shift)
    while slots[i] >= 0 { i = (i + 1) & mask }
    slots[i] = e
    return i
  }

  private mutating func grow() {
    slots = Array(repeating: -1, count: slots.count * 2)
    shift -= 1
    for e in entries.indices { place(Int32(e), hash: entries[e].hash) }
  }

  /// Hashes every key with the keyed hash from now on.
  private mutating func rekey() {
    isKeyed = true
    keys.withUnsafeBytes { keys in
      for e in entries.indices {
        let start = keys.baseAddress! + entries[e].start
        entries[e].hash = KeyedHashing.hash(
          UnsafeRawBufferPointer(start: start, count: entries[e].length))
      }
    }
    slots = Array(repeating: -1, count: slots.count)
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
