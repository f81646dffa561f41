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
    var out = ""
    appendDescription(of: frame, to: &out)
    return out
  }

  /// Appends `describe(frame)` to `out` without intermediate strings.
  public static func appendDescription(of frame: Frame, to out: inout String) {
    guard frame.isSymbolized, !frame.isStale else {
      appendLocation(ofUnsymbolized: frame, to: &out)
      if frame.isStale { out += " [stale]" }
      return
    }
    out += frame.function ?? "??"
    if frame.file == nil, frame.line == 0 {
      // Named from the symbol table only: say where instead of a fake location.
      out += " ("
      appendLocation(ofUnsymbolized: frame, to: &out)
      out += ")"
      return
    }
    out += " at "
    appendSourceLocation(of: frame, to: &out)
  }

  /// `file:line:column`, `file:line`, or `<compiler-generated>` for line 0.
  public static func sourceLocation(_ frame: Frame) -> String {
    var out = ""
    appendSourceLocation(of: frame, to: &out)
    return out
  }

  private static func appendSourceLocation(of frame: Frame, to out: inout String) {
    guard frame.line != 0 else {
      out += "<compiler-generated>"
      return
    }
    out += frame.file ?? "??"
    out += ":"
    out += String(frame.line)
    if frame.column != 0 {
      out += ":"
      out += String(frame.column)
    }
  }

  /// `libc.so.6+0x2a1f0` for a known module, else `0x…`.
  public static func location(ofUnsymbolized frame: Frame) -> String {
    var out = ""
    appendLocation(ofUnsymbolized: frame, to: &out)
    return out
  }

  private static func appendLocation(ofUnsymbolized frame: Frame, to out: inout String) {
    guard let module = frame.moduleName else {
      out += hex(frame.address)
      return
    }
    out += module
    out += "+"
    out += hex(frame.moduleOffset)
  }

  /// The pretty-print block of one address; with `printAddress`, prefixed by
  /// `0x…: ` as `llvm-symbolizer --print-address --pretty-print` does.
  public static func text(_ symbolized: SymbolizedAddress, printAddress: Bool = false) -> String {
    var out = ""
    appendText(symbolized, printAddress: printAddress, to: &out)
    return out
  }

  /// Appends `text(symbolized, printAddress:)` to `out`, without a final newline.
  public static func appendText(
    _ symbolized: SymbolizedAddress, printAddress: Bool = false, to out: inout String
  ) {
    // By index, so frames are borrowed from the array, not copied (a copy
    // retains every reference a frame holds).
    for index in symbolized.frames.indices {
      if index == 0 {
        if printAddress {
          out += hex(symbolized.address)
          out += ": "
        }
      } else {
        out += "\n (inlined by) "
      }
      appendDescription(of: symbolized.frames[index], to: &out)
    }
  }

  /// One JSON object, on one line:
  /// `{"address": "0x…", "frames": [{"function": …, "file": …, "line": …,
  /// "column": …, "inlined": …, "module": …, "offset": "0x…"}]}`.
  /// Unknown strings are `null`; `"stale": true` is added for stale frames.
  public static func json(_ symbolized: SymbolizedAddress) -> String {
    var out = ""
    appendJSON(symbolized, to: &out)
    return out
  }

  /// Appends `json(symbolized)` to `out`, without a final newline.
  public static func appendJSON(_ symbolized: SymbolizedAddress, to out: inout String) {
    out += "{\"address\": \""
    out += hex(symbolized.address)
    out += "\", \"frames\": ["
    for (index, frame) in symbolized.frames.enumerated() {
      if index > 0 { out += ", " }
      out += "{\"function\": "
      appendJSONString(frame.function, to: &out)
      out += ", \"file\": "
      appendJSONString(frame.file, to: &out)
      out += ", \"line\": "
      out += String(frame.line)
      out += ", \"column\": "
      out += String(frame.column)
      out += frame.isInlined ? ", \"inlined\": true" : ", \"inlined\": false"
      out += ", \"module\": "
      appendJSONString(frame.module, to: &out)
      out += ", \"offset\": \""
      out += hex(frame.moduleOffset)
      out += "\""
      if frame.isStale { out += ", \"stale\": true" }
      out += "}"
    }
    out += "]}"
  }

  /// `0x` followed by lowercase hex digits.
  public static func hex(_ value: UInt64) -> String { "0x" + String(value, radix: 16) }

  /// A JSON string literal (or `null`), escaping quotes, backslashes and
  /// control characters.
  static func jsonString(_ value: String?) -> String {
    var out = ""
    appendJSONString(value, to: &out)
    return out
  }

  private static func appendJSONString(_ value: String?, to out: inout String) {
    guard let value else {
      out += "null"
      return
    }
    out += "\""
    // Most names and paths need no escaping: copy them whole.
    if !value.utf8.contains(where: {
      $0 < 0x20 || $0 == UInt8(ascii: "\"") || $0 == UInt8(ascii: "\\")
    }) {
      out += value
      out += "\""
      return
    }
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
    out += "\""
  }
}
