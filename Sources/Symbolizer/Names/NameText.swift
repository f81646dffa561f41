/// A linkage name as an interning key: its text and a 64-bit hash of its
/// bytes, computed once when the key is made.
///
/// `Dictionary<String, _>` hashes a whole name with seeded SipHash on every
/// lookup and again on every resize; Swift and C++ linkage names run to
/// hundreds of bytes, and interning them was a sixth of `symbolize`'s
/// symbolizing thread. Here the bytes are mixed 8 at a time once, and the
/// table hashes only that word. Names come from the binaries being read, not
/// from an adversary: colliding names only slow a table down, since equality
/// still compares the text.
///
/// Invariant: `hash` is `NameText.hash(of:)` of `text`'s UTF-8 bytes.
struct NameText: Hashable, Sendable {
  let text: String
  let hash: UInt64

  /// The key of `bytes` (UTF-8 text).
  init(_ bytes: UnsafeBufferPointer<UInt8>) {
    text = String(decoding: bytes, as: UTF8.self)
    hash = Self.hash(of: UnsafeRawBufferPointer(bytes))
  }

  /// The key of `text`.
  init(_ text: String) {
    var text = text
    self.hash = text.withUTF8 { Self.hash(of: UnsafeRawBufferPointer($0)) }
    self.text = text
  }

  static func == (a: NameText, b: NameText) -> Bool {
    a.hash == b.hash && a.text == b.text
  }

  func hash(into hasher: inout Hasher) {
    hasher.combine(hash)
  }

  /// A multiply-xorshift mix of `bytes`, 8 at a time, with the length
  /// folded in (so that a trailing zero byte changes it).
  static func hash(of bytes: UnsafeRawBufferPointer) -> UInt64 {
    let multiplier: UInt64 = 0x9e37_79b9_7f4a_7c15
    var state = UInt64(bytes.count) &* multiplier
    var offset = 0
    while offset + 8 <= bytes.count {
      let word = bytes.loadUnaligned(fromByteOffset: offset, as: UInt64.self)
      state = (state ^ word) &* multiplier
      state ^= state >> 32
      offset += 8
    }
    if offset < bytes.count {
      var tail: UInt64 = 0
      for index in offset..<bytes.count {
        tail |= UInt64(bytes[index]) << (UInt64(index - offset) * 8)
      }
      state = (state ^ tail) &* multiplier
      state ^= state >> 32
    }
    return state
  }
}
