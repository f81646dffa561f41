/// JSON string escaping, the one implementation behind every JSON the
/// project writes.
public enum JSONText {
  /// Appends `text` JSON-escaped, without surrounding quotes: `"` and `\`
  /// get a backslash, newline, return and tab their short escapes, other
  /// control characters `\u00xx` (lowercase hex); everything else is
  /// copied as UTF-8.
  @inlinable
  public static func appendEscaped(_ text: String, to out: inout [UInt8]) {
    // Most text needs no escape: copied whole.
    if !text.utf8.contains(where: {
      $0 < 0x20 || $0 == UInt8(ascii: "\"") || $0 == UInt8(ascii: "\\")
    }) {
      out.append(contentsOf: text.utf8)
      return
    }
    for byte in text.utf8 {
      switch byte {
      case UInt8(ascii: "\""): FrameText.append(#"\""#, to: &out)
      case UInt8(ascii: "\\"): FrameText.append(#"\\"#, to: &out)
      case UInt8(ascii: "\n"): FrameText.append(#"\n"#, to: &out)
      case UInt8(ascii: "\r"): FrameText.append(#"\r"#, to: &out)
      case UInt8(ascii: "\t"): FrameText.append(#"\t"#, to: &out)
      case ..<0x20:
        FrameText.append(#"\u00"#, to: &out)
        let high = byte >> 4
        let low = byte & 0xf
        out.append(0x30 + high)
        out.append(low < 10 ? 0x30 + low : 0x61 + low - 10)
      default: out.append(byte)
      }
    }
  }

  /// `text` as a JSON string literal, in quotes; `null` for nil.
  public static func quoted(_ text: String?) -> String {
    guard let text else { return "null" }
    var out: [UInt8] = [UInt8(ascii: "\"")]
    appendEscaped(text, to: &out)
    out.append(UInt8(ascii: "\""))
    return String(decoding: out, as: UTF8.self)
  }
}
