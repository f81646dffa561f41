/// Bytes that must be UTF-8 (a trace's names, tokens and paths) made into
/// strings.
public enum UTF8Text {
  /// `bytes` as a string, or nil when they are not valid UTF-8.
  ///
  /// ASCII, the common case, is told apart first and made into a string
  /// without the standard library's generic validation (which costs about
  /// a thousand instructions a call: a trace with a thread per task makes
  /// a string per thread).
  @inlinable
  public static func string(_ bytes: UnsafeRawBufferPointer) -> String? {
    if !bytes.contains(where: { $0 >= 0x80 }) { return String(decoding: bytes, as: UTF8.self) }
    return String(validating: bytes, as: UTF8.self)
  }
}
