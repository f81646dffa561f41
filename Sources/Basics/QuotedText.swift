/// How an error message shows text taken from a trace, so that the message
/// stays one printable line whatever the trace holds: at most 64
/// characters, every character that is not printable written as its
/// escape (`\u{1B}`), and `\` and `"` as `\\` and `\"` (so an escape in the
/// message cannot be confused with the same characters in the trace).
public enum QuotedText {
  /// `text`, clipped to 64 characters (`...` ending a longer one) and
  /// escaped, for use between double quotes in a message.
  public static func shown(_ text: String) -> String {
    let clipped = text.count <= 64 ? text : String(text.prefix(61)) + "..."
    if clipped.utf8.allSatisfy({ $0 >= 0x20 && $0 < 0x7F && $0 != 0x5C && $0 != 0x22 }) {
      return clipped
    }
    var out = ""
    for scalar in clipped.unicodeScalars {
      switch scalar {
      case "\\": out += "\\\\"
      case "\"": out += "\\\""
      default: out += isPrintable(scalar) ? String(scalar) : escape(scalar)
      }
    }
    return out
  }

  /// `text` with every character that is not printable written as its
  /// escape (`\u{1B}`), nothing clipped: a name from a trace, as a report
  /// prints it to a terminal.
  public static func printable(_ text: String) -> String {
    printable(text, keepingLines: false)
  }

  /// A file's name as messages print it: `printable(_:)`, and `''` for
  /// the empty name (`rawlockcheck: : cannot open` said nothing).
  public static func fileName(_ path: String) -> String {
    path.isEmpty ? "''" : printable(path)
  }

  /// `printable(_:)` of a message's lines: every line break and tab is
  /// kept, and any other character a terminal does not show as itself is
  /// escaped (an escape sequence in a file name cannot reach the
  /// terminal through an error message).
  public static func terminalLines(_ text: String) -> String {
    printable(text, keepingLines: true)
  }

  /// `printable(_:)`, keeping line breaks and tabs when `keepingLines`.
  private static func printable(_ text: String, keepingLines: Bool) -> String {
    func kept(_ scalar: Unicode.Scalar) -> Bool {
      isPrintable(scalar) || keepingLines && (scalar == "\n" || scalar == "\t")
    }
    if text.utf8.allSatisfy({ $0 < 0x80 && kept(Unicode.Scalar($0)) }) { return text }
    var out = ""
    for scalar in text.unicodeScalars { out += kept(scalar) ? String(scalar) : escape(scalar) }
    return out
  }

  /// `\u{` and the scalar's value in uppercase hexadecimal, then `}`.
  public static func escape(_ scalar: Unicode.Scalar) -> String {
    "\\u{" + String(scalar.value, radix: 16, uppercase: true) + "}"
  }

  /// False for what a terminal does not show as itself: control
  /// characters (C0, DEL, C1, tab included), format characters (such as
  /// bidirectional overrides), line and paragraph separators, and
  /// private-use, surrogate and unassigned code points.
  public static func isPrintable(_ scalar: Unicode.Scalar) -> Bool {
    if scalar.value >= 0x20 && scalar.value < 0x7F { return true }
    switch scalar.properties.generalCategory {
    case .control, .format, .lineSeparator, .paragraphSeparator, .privateUse, .surrogate,
      .unassigned:
      return false
    default: return true
    }
  }
}
