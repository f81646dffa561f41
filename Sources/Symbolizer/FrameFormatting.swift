/// Text and JSON renderings of symbolized addresses.
///
/// Text follows `llvm-symbolizer --pretty-print`:
/// ```
/// leaf_mix at /src/inline.c:12:8
///  (inlined by) middle_step at /src/inline.c:17:11
///  (inlined by) outer_work at /src/inline.c:25:14
/// ```
/// with two deliberate differences: a frame with no name and no line prints
/// as `module+0xoffset` (or the bare address when no module is known), and
/// line 0 prints as `<compiler-generated>`. Stale frames get ` [stale]`, and a
/// function known only from the symbol table prints as `name (module+0xoffset)`.
public enum FrameFormatting {
  /// `function at file:line:column`, or the fallback forms described above.
  public static func describe(_ frame: Frame) -> String {
    guard frame.isSymbolized, !frame.isStale else {
      return location(ofUnsymbolized: frame) + (frame.isStale ? " [stale]" : "")
    }
    let name = frame.function ?? "??"
    if frame.file == nil, frame.line == 0 {
      // Named from the symbol table only: say where instead of a fake location.
      return "\(name) (\(location(ofUnsymbolized: frame)))"
    }
    return "\(name) at \(sourceLocation(frame))"
  }

  /// `file:line:column`, `file:line`, or `<compiler-generated>` for line 0.
  public static func sourceLocation(_ frame: Frame) -> String {
    guard frame.line != 0 else { return "<compiler-generated>" }
    let file = frame.file ?? "??"
    return frame.column != 0 ? "\(file):\(frame.line):\(frame.column)" : "\(file):\(frame.line)"
  }

  /// `libc.so.6+0x2a1f0` for a known module, else `0x…`.
  public static func location(ofUnsymbolized frame: Frame) -> String {
    guard let module = frame.moduleName else { return hex(frame.address) }
    return "\(module)+\(hex(frame.moduleOffset))"
  }

  /// The pretty-print block of one address; with `printAddress`, prefixed by
  /// `0x…: ` as `llvm-symbolizer --print-address --pretty-print` does.
  public static func text(_ symbolized: SymbolizedAddress, printAddress: Bool = false) -> String {
    var lines: [String] = []
    for (index, frame) in symbolized.frames.enumerated() {
      let body = describe(frame)
      if index == 0 {
        lines.append(printAddress ? "\(hex(symbolized.address)): \(body)" : body)
      } else {
        lines.append(" (inlined by) \(body)")
      }
    }
    return lines.joined(separator: "\n")
  }

  /// One JSON object, on one line:
  /// `{"address": "0x…", "frames": [{"function": …, "file": …, "line": …,
  /// "column": …, "inlined": …, "module": …, "offset": "0x…"}]}`.
  /// Unknown strings are `null`; `"stale": true` is added for stale frames.
  public static func json(_ symbolized: SymbolizedAddress) -> String {
    let frames = symbolized.frames.map { frame -> String in
      var fields = [
        "\"function\": \(jsonString(frame.function))",
        "\"file\": \(jsonString(frame.file))",
        "\"line\": \(frame.line)",
        "\"column\": \(frame.column)",
        "\"inlined\": \(frame.isInlined)",
        "\"module\": \(jsonString(frame.module))",
        "\"offset\": \"\(hex(frame.moduleOffset))\"",
      ]
      if frame.isStale { fields.append("\"stale\": true") }
      return "{" + fields.joined(separator: ", ") + "}"
    }
    return "{\"address\": \"\(hex(symbolized.address))\", \"frames\": ["
      + frames.joined(separator: ", ") + "]}"
  }

  /// `0x` followed by lowercase hex digits.
  public static func hex(_ value: UInt64) -> String { "0x" + String(value, radix: 16) }

  /// A JSON string literal (or `null`), escaping quotes, backslashes and
  /// control characters.
  static func jsonString(_ value: String?) -> String {
    guard let value else { return "null" }
    var out = "\""
    for scalar in value.unicodeScalars {
      switch scalar {
      case "\"": out += "\\\""
      case "\\": out += "\\\\"
      case "\n": out += "\\n"
      case "\r": out += "\\r"
      case "\t": out += "\\t"
      case _ where scalar.value < 0x20:
        let digits = String(scalar.value, radix: 16)
        out += "\\u" + String(repeating: "0", count: 4 - digits.count) + digits
      default: out.unicodeScalars.append(scalar)
      }
    }
    return out + "\""
  }
}
