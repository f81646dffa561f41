/// Splits one trace line into tokens, as `spec/trace-format.md` defines
/// them: separated by spaces or tabs, `#` starts a comment outside quotes,
/// double quotes with `\"` and `\\` escapes protect spaces, `#` and quotes.
/// Any other escape is an error, and so is a control character (C0 other
/// than tab, and DEL) anywhere in a token, quoted or not: a trace's
/// tokens are printable text (comments may hold anything).
///
/// Tokens are ranges into the line; nothing is copied unless a quoted value
/// is turned into a `String`.
struct Tokenizer {
  struct Token {
    var start: Int
    var end: Int
    /// The token holds a quote, so its text must be unescaped.
    var quoted: Bool
  }

  enum Failure: Error {
    case unterminatedQuote
    /// A backslash in quotes, at this 1-based column, before this byte,
    /// which is not `"` or `\`.
    case unknownEscape(UInt8, column: Int)
    /// A control character in a token, at this 1-based column.
    case controlCharacter(UInt8, column: Int)

    /// The one-line message every reader of the text forms gives.
    var message: String {
      switch self {
      case .unterminatedQuote: "unterminated quote"
      case .unknownEscape(let byte, let column):
        "unknown escape \\\(TextTraceParser.shown(byte)) at column \(column) (in quotes only \\\" and \\\\ are escapes)"
      case .controlCharacter(let byte, let column):
        "control character \(TextTraceParser.shown(byte)) at column \(column) (a token may not hold one; tab only separates tokens or sits in quotes)"
      }
    }
  }

  private(set) var tokens: [Token] = []

  init() { tokens.reserveCapacity(64) }

  mutating func split(_ line: UnsafeRawBufferPointer) throws(Failure) {
    tokens.removeAll(keepingCapacity: true)
    let n = line.count
    var i = 0
    while i < n {
      var c = line[i]
      if c == 0x20 || c == 0x09 {
        i += 1
        continue
      }
      if c == 0x23 { return }  // '#'
      let start = i
      var quoted = false
      var inQuote = false
      while i < n {
        c = line[i]
        if inQuote {
          if c == 0x5C && i + 1 < n {  // backslash escape
            let escaped = line[i + 1]
            guard escaped == 0x22 || escaped == 0x5C else {
              throw .unknownEscape(escaped, column: i + 1)
            }
            i += 2
            continue
          }
          if c == 0x22 {
            inQuote = false
          } else if c < 0x20 && c != 0x09 || c == 0x7F {
            throw .controlCharacter(c, column: i + 1)
          }
        } else if c <= 0x23 {  // one comparison for the common bytes
          // A separator, '#' or a control character ends the token (the
          // last is thrown below, out of the loop).
          if c == 0x20 || c == 0x09 || c == 0x23 || c < 0x20 { break }
          if c == 0x22 {
            inQuote = true
            quoted = true
          }
        } else if c == 0x7F {
          break
        }
        i += 1
      }
      if inQuote { throw .unterminatedQuote }
      if i < n {
        let end = line[i]
        if end != 0x20 && end != 0x09 && end != 0x23 {
          throw .controlCharacter(end, column: i + 1)
        }
      }
      tokens.append(Token(start: start, end: i, quoted: quoted))
    }
  }

  /// The text of `line[start..<end]` with quotes removed and escapes applied.
  static func text(_ line: UnsafeRawBufferPointer, _ start: Int, _ end: Int) -> String {
    var bytes: [UInt8] = []
    bytes.reserveCapacity(end - start)
    var i = start
    var inQuote = false
    while i < end {
      let c = line[i]
      if inQuote && c == 0x5C && i + 1 < end {
        bytes.append(line[i + 1])
        i += 2
        continue
      }
      if c == 0x22 {
        inQuote.toggle()
      } else {
        bytes.append(c)
      }
      i += 1
    }
    return String(decoding: bytes, as: UTF8.self)
  }
}
