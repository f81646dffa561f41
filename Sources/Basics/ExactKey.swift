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

  /// Whether the two strings have the same bytes.
  public static func == (a: ExactKey, b: ExactKey) -> Bool {
    a.text.utf8.elementsEqual(b.text.utf8)
  }

  /// Hashes the bytes.
  public func hash(into hasher: inout Hasher) {
    var copy = text
    copy.withUTF8 { hasher.combine(bytes: UnsafeRawBufferPointer($0)) }
  }
}
