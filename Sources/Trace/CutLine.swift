import Basics
import WaitContext

/// Whether a text trace's last line, which ends the file without a newline
/// and does not read, may be a line cut short (a copy of a trace still
/// being written, a full disk) rather than a wrong line.
///
/// A cut line is a prefix of a line that reads: either what it lacks is
/// at its end (the reader wanted more: `1 acquire`, `class new_lo`, `stack
/// s9`, a quote left open), or its last token, where the cut fell, is the
/// start of something longer the reader would take there: a proper prefix
/// of a word of the format (`acqu`), of an option key (`ins`, `inst=`) or
/// of a name declared before (`zone_lo` for `zone_lock`), an option's
/// value that is such a prefix or empty, or a number that more digits may
/// end. A line refused for a wrong word at its end (`zone_lok`, `tyr`,
/// `foo=2`) or for what it says whole (a class declared twice) is an
/// error as any other (spec/trace-format.md: a malformed line stops the
/// reader); so is one that ends in a comment, which a cut cannot reach
/// past. An error in an earlier token with a last token that may be cut
/// (`1 acquire zone_lok r`) still reads as a cut: the judgement looks at
/// the end of the line only.
struct CutLine {
  /// The words of the format (verbs, flags, declarations, kinds, wait
  /// types, lock types, option keys with their `=`).
  static let words: [[UInt8]] = {
    var w: [String] = [TraceVocabulary.headerWord]
    w += TraceVocabulary.events.map(\.spelling)
    w += TraceVocabulary.flags.map(\.spelling)
    w += TraceVocabulary.options.map { $0.key + "=" }
    for d in TraceVocabulary.declarations {
      w.append(TraceVocabulary.rule(for: d.declaration).spelling)
      w += d.options.map { $0 + "=" }
    }
    w += LockKind.allCases.map(\.rawValue)
    w += WaitType.allCases.map(\.description)
    w += LockType.allCases.map(\.description)
    return w.map { Array($0.utf8) }
  }()

  /// Whether the reader refused a line for what it lacks at its end
  /// (`acquire needs a class`, `expected "stack <sid> <address> ..."`):
  /// its messages for a line too short.
  static func wantsMore(_ message: String) -> Bool {
    message.hasPrefix("expected \"") || message.hasPrefix("expected a declaration or")
      || message.contains(" needs ")
  }

  /// Whether `line` (without its end), refused with `message`, may be
  /// cut; `names` are the ids declared so far (classes, threads, stacks).
  static func mayBeCut(_ line: UnsafeRawBufferPointer, message: String, names: [TokenTable])
    -> Bool
  {
    var last: [UInt8] = []
    var inQuote = false
    var escaped = false
    for byte in line {
      if inQuote {
        if escaped {
          escaped = false
          last.append(byte)
        } else if byte == UInt8(ascii: "\\") {
          escaped = true
        } else if byte == UInt8(ascii: "\"") {
          inQuote = false
        } else {
          last.append(byte)
        }
        continue
      }
      switch byte {
      case UInt8(ascii: " "), UInt8(ascii: "\t"): last.removeAll()
      case UInt8(ascii: "\""): inQuote = true
      case UInt8(ascii: "#"): return false
      default: last.append(byte)
      }
    }
    if inQuote || last.isEmpty || wantsMore(message) { return true }
    if let eq = last.firstIndex(of: UInt8(ascii: "=")) {
      let key = Array(last[...eq])
      guard words.contains(key) else { return false }
      let value = Array(last[(eq + 1)...])
      // A subclass past the last one only grows with more digits (`sub=8`).
      if key == Array("sub=".utf8), let n = NumberText.parse(value),
        n > TraceVocabulary.maxSubclass
      {
        return false
      }
      return value.isEmpty || extends(value, names: names)
        || isNumberStart(value, hexFirst: true)
    }
    return extends(last, names: names) || isNumberStart(last, hexFirst: false)
  }

  /// Whether a word of the format or a declared name is longer than
  /// `token` and starts with it.
  static func extends(_ token: [UInt8], names: [TokenTable]) -> Bool {
    words.contains { $0.count > token.count && $0.starts(with: token) }
      || names.contains { $0.hasKey(extending: token) }
  }

  /// Whether more characters may make `token` a number or a range
  /// (`0x`, `12`, `0x1000-`): hex digits, `x` and `-` only, with a digit
  /// first unless `hexFirst` (an option's value: `build-id=ab`).
  static func isNumberStart(_ token: [UInt8], hexFirst: Bool) -> Bool {
    guard let first = token.first,
      hexFirst || (UInt8(ascii: "0")...UInt8(ascii: "9")).contains(first)
    else { return false }
    return token.allSatisfy { b in
      (UInt8(ascii: "0")...UInt8(ascii: "9")).contains(b)
        || (UInt8(ascii: "a")...UInt8(ascii: "f")).contains(b)
        || (UInt8(ascii: "A")...UInt8(ascii: "F")).contains(b) || b == UInt8(ascii: "x")
        || b == UInt8(ascii: "-")
    }
  }
}
