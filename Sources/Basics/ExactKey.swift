#if canImport(Glibc)
  import Glibc
#endif

/// A string compared and hashed by its UTF-8 bytes, as the trace readers
/// compare tokens: `String`'s own equality is canonical equivalence, which
/// takes a precomposed "é" and "e" with a combining accent for one string,
/// so a dictionary keyed by `String` would make two classes of a trace
/// one.
public struct ExactKey: Hashable, Sendable {
  /// The string.
  public let text: String

  /// `text` as a key.
  public init(_ text: String) { self.text = text }

  /// Whether the two strings have the same bytes: their lengths, then
  /// `memcmp` (the generic `elementsEqual` of two UTF-8 views went byte by
  /// byte through their iterators: a quarter of the time of making a
  /// validated lock, whose class is looked up by its site's key).
  public static func == (a: ExactKey, b: ExactKey) -> Bool {
    guard a.text.utf8.count == b.text.utf8.count else { return false }
    var (x, y) = (a.text, b.text)
    return x.withUTF8 { p in
      y.withUTF8 { q in p.count == 0 || memcmp(p.baseAddress!, q.baseAddress!, p.count) == 0 }
    }
  }

  /// Hashes the bytes.
  public func hash(into hasher: inout Hasher) {
    var copy = text
    copy.withUTF8 { hasher.combine(bytes: UnsafeRawBufferPointer($0)) }
  }
}
