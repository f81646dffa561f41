/// The text and JSON forms of symbolized addresses, written as UTF-8 bytes:
/// the one implementation behind `FrameFormatting` (for `Frame` values) and
/// `BatchRenderer` (for `SymbolizedBatch`es).
///
/// Text follows `llvm-symbolizer --pretty-print`; see `FrameFormatting` for
/// the forms. The strings of a frame come in as `Parts`, in the form the
/// output wants them: raw for text, JSON-escaped (without quotes) for JSON.
enum FrameText {
  /// One frame's fields, its strings as UTF-8 bytes.
  struct Parts<Bytes: Collection<UInt8>> {
    /// The readable function name.
    var name: Bytes?
    var file: Bytes?
    /// Text: the module's file name (`libc.so.6`); JSON: its path.
    var module: Bytes?
    var line: Int
    var column: Int
    var isInlined: Bool
    var isStale: Bool
    var moduleOffset: UInt64
    /// The address as given (printed when no module is known).
    var address: UInt64

    /// False when neither a name nor a source line is known.
    var isSymbolized: Bool { name != nil || (file != nil && line != 0) }
  }

  /// The pretty-print block of one address (no final newline): each frame's
  /// description, the first prefixed by `0x…: ` when `printAddress` is set,
  /// the others by `\n (inlined by) `.
  static func appendText<Bytes>(
    address: UInt64, printAddress: Bool, frameCount: Int, parts: (Int) -> Parts<Bytes>,
    to out: inout [UInt8]
  ) {
    for index in 0..<frameCount {
      if index > 0 {
        append("\n (inlined by) ", to: &out)
      } else if printAddress {
        appendHex(address, to: &out)
        append(": ", to: &out)
      }
      appendDescription(parts(index), to: &out)
    }
  }

  /// `function at file:line:column`, `<compiler-generated>` for line 0,
  /// `function (module+0xoffset)` when only a symbol is known, and
  /// `module+0xoffset` (or the bare address) when nothing is, with
  /// ` [stale]` for a module whose file no longer matches.
  static func appendDescription<Bytes>(_ frame: Parts<Bytes>, to out: inout [UInt8]) {
    guard frame.isSymbolized, !frame.isStale else {
      appendUnsymbolized(frame, to: &out)
      if frame.isStale { append(" [stale]", to: &out) }
      return
    }
    if let name = frame.name { out.append(contentsOf: name) } else { append("??", to: &out) }
    if frame.file == nil, frame.line == 0 {
      // Named from the symbol table only: say where instead of a fake location.
      append(" (", to: &out)
      appendUnsymbolized(frame, to: &out)
      append(")", to: &out)
      return
    }
    append(" at ", to: &out)
    guard frame.line != 0 else {
      append("<compiler-generated>", to: &out)
      return
    }
    if let file = frame.file { out.append(contentsOf: file) } else { append("??", to: &out) }
    append(":", to: &out)
    appendDecimal(frame.line, to: &out)
    if frame.column != 0 {
      append(":", to: &out)
      appendDecimal(frame.column, to: &out)
    }
  }

  private static func appendUnsymbolized<Bytes>(_ frame: Parts<Bytes>, to out: inout [UInt8]) {
    guard let module = frame.module else {
      appendHex(frame.address, to: &out)
      return
    }
    out.append(contentsOf: module)
    append("+", to: &out)
    appendHex(frame.moduleOffset, to: &out)
  }

  /// One JSON object on one line: `{"address": "0x…", "frames": [{"function":
  /// …, "file": …, "line": …, "column": …, "inlined": …, "module": …,
  /// "offset": "0x…"}]}`, unknown strings `null`, `"stale": true` added for
  /// stale frames. `parts` gives JSON-escaped strings.
  static func appendJSON<Bytes>(
    address: UInt64, frameCount: Int, parts: (Int) -> Parts<Bytes>, to out: inout [UInt8]
  ) {
    append(#"{"address": ""#, to: &out)
    appendHex(address, to: &out)
    append(#"", "frames": ["#, to: &out)
    for index in 0..<frameCount {
      let frame = parts(index)
      append(index > 0 ? #", {"function": "# : #"{"function": "#, to: &out)
      appendJSONString(frame.name, to: &out)
      append(#", "file": "#, to: &out)
      appendJSONString(frame.file, to: &out)
      append(#", "line": "#, to: &out)
      appendDecimal(frame.line, to: &out)
      append(#", "column": "#, to: &out)
      appendDecimal(frame.column, to: &out)
      append(frame.isInlined ? #", "inlined": true"# : #", "inlined": false"#, to: &out)
      append(#", "module": "#, to: &out)
      appendJSONString(frame.module, to: &out)
      append(#", "offset": ""#, to: &out)
      appendHex(frame.moduleOffset, to: &out)
      append(#"""#, to: &out)
      if frame.isStale { append(#", "stale": true"#, to: &out) }
      append("}", to: &out)
    }
    append("]}", to: &out)
  }

  /// `"escaped"`, or `null`.
  private static func appendJSONString<Bytes: Collection<UInt8>>(
    _ escaped: Bytes?, to out: inout [UInt8]
  ) {
    guard let escaped else {
      append("null", to: &out)
      return
    }
    out.append(UInt8(ascii: "\""))
    out.append(contentsOf: escaped)
    out.append(UInt8(ascii: "\""))
  }

  /// Appends `text` JSON-escaped (quotes, backslashes and control
  /// characters; no surrounding quotes).
  static func appendJSONEscaped(_ text: String, to out: inout [UInt8]) {
    for byte in text.utf8 {
      switch byte {
      case UInt8(ascii: "\""): append(#"\""#, to: &out)
      case UInt8(ascii: "\\"): append(#"\\"#, to: &out)
      case UInt8(ascii: "\n"): append(#"\n"#, to: &out)
      case UInt8(ascii: "\r"): append(#"\r"#, to: &out)
      case UInt8(ascii: "\t"): append(#"\t"#, to: &out)
      case ..<0x20:
        append(#"\u00"#, to: &out)
        out.append(hexDigits[Int(byte >> 4)])
        out.append(hexDigits[Int(byte & 0xf)])
      default: out.append(byte)
      }
    }
  }

  private static let hexDigits = Array("0123456789abcdef".utf8)

  /// `0x` and lowercase hex digits.
  static func appendHex(_ value: UInt64, to out: inout [UInt8]) {
    append("0x", to: &out)
    let digits = max(1, (64 - value.leadingZeroBitCount + 3) / 4)
    for shift in stride(from: (digits - 1) * 4, through: 0, by: -4) {
      out.append(hexDigits[Int((value >> UInt64(shift)) & 0xf)])
    }
  }

  /// Decimal digits, with a minus sign when negative.
  static func appendDecimal(_ value: Int, to out: inout [UInt8]) {
    if value < 0 { out.append(UInt8(ascii: "-")) }
    var magnitude = value.magnitude
    var digits: (UInt64, UInt64, UInt64) = (0, 0, 0)  // room for 24 digits
    var count = 0
    withUnsafeMutableBytes(of: &digits) { buffer in
      repeat {
        buffer[count] = UInt8(ascii: "0") + UInt8(magnitude % 10)
        magnitude /= 10
        count += 1
      } while magnitude > 0
      for index in stride(from: count - 1, through: 0, by: -1) { out.append(buffer[index]) }
    }
  }

  /// Appends a literal.
  @inline(__always)
  static func append(_ literal: StaticString, to out: inout [UInt8]) {
    out.append(
      contentsOf: UnsafeBufferPointer(start: literal.utf8Start, count: literal.utf8CodeUnitCount))
  }
}
