/// The text and JSON forms of frames, written as UTF-8 bytes: the one
/// implementation behind `Symbolizer`'s `FrameFormatting` (for `Frame`
/// values) and `BatchRenderer` (for `SymbolizedBatch`es), and `Report`'s
/// `Frame.reportText` (Report).
///
/// The strings of a frame come in as `Parts`, in the form the output wants
/// them: raw for text, JSON-escaped (without quotes) for JSON.
///
/// Two layouts of a frame line (`Style`) share their pieces:
/// `module+0xoffset` (or the bare `0x…` address) for a frame with no name,
/// `file:line[:column]` for a location, and ` [stale binary]` after a frame
/// of a module whose file no longer matches the trace.
public enum FrameText {
  /// One frame's fields, its strings as UTF-8 bytes.
  public struct Parts<Bytes: Collection<UInt8>> {
    /// The readable function name.
    public var name: Bytes?
    /// The source file.
    public var file: Bytes?
    /// Text: the module's file name (`libc.so.6`); JSON: its path. Nil when
    /// no module (or no offset in it) is known.
    public var module: Bytes?
    /// The 1-based source line; 0 when unknown or compiler-generated.
    public var line: Int
    /// The 1-based source column; 0 when unknown.
    public var column: Int
    /// True for every frame of an inline chain except the outermost one.
    public var isInlined: Bool
    /// The module's file is not the one the address came from.
    public var isStale: Bool
    /// The address as the module's ELF file numbers it.
    public var moduleOffset: UInt64
    /// The address as given (printed when no module is known).
    public var address: UInt64

    /// A frame's fields.
    @inlinable
    public init(
      name: Bytes?, file: Bytes?, module: Bytes?, line: Int, column: Int, isInlined: Bool,
      isStale: Bool, moduleOffset: UInt64, address: UInt64
    ) {
      self.name = name
      self.file = file
      self.module = module
      self.line = line
      self.column = column
      self.isInlined = isInlined
      self.isStale = isStale
      self.moduleOffset = moduleOffset
      self.address = address
    }

    /// True when a name or a source line is known.
    @inlinable
    public var isSymbolized: Bool { name != nil || (file != nil && line != 0) }
  }

  /// How a frame line is laid out.
  public enum Style: Sendable {
    /// `llvm-symbolizer --pretty-print`: `function at file:line:column`,
    /// `function at <compiler-generated>` for line 0, `?? at …` without a
    /// name, `function (module+0xoffset)` when only a symbol is known.
    case pretty
    /// A report's lock line after `at:`: `function (file:line)`,
    /// `function (file:<compiler-generated>)` for line 0 (`function
    /// (<compiler-generated>)` in Swift's compiler-generated file),
    /// `function` alone without a file, `module+0xoffset` without a name
    /// (the spec's `at: Allocator.Zone.refill(batch:)
    /// (Sources/Allocator/Zone.swift:88)`: file and line, no column).
    case report
    /// A report's `stack backtrace:` frame: `report` without the
    /// parentheses, `function file:line` (the spec's `#0
    /// Allocator.Zone.refill(batch:) Sources/Allocator/Zone.swift:88`).
    case backtrace
  }

  /// The file Swift gives compiler-generated code (`/<compiler-generated>`
  /// once its compilation directory `/` is joined).
  public static let compilerGeneratedFile = "/<compiler-generated>"

  /// What follows a stale frame.
  public static let staleMarker: StaticString = " [stale binary]"

  /// The pretty-print block of one address (no final newline): each frame's
  /// description, the first prefixed by `0x…: ` when `printAddress` is set,
  /// the others by `\n (inlined by) `.
  @inlinable
  public static func appendText<Bytes>(
    address: UInt64, printAddress: Bool, frameCount: Int, parts: (Int) -> Parts<Bytes>,
    to out: inout [UInt8]
  ) {
    for index in 0..<frameCount {
      if index > 0 {
        append("\n (inlined by) ", to: &out)
      } else if printAddress {
        NumberText.appendHex(address, to: &out)
        append(": ", to: &out)
      }
      appendDescription(parts(index), style: .pretty, to: &out)
    }
  }

  /// One frame's line in `style`. A stale frame, and one with nothing
  /// known, prints as `module+0xoffset` (or the bare address when no module
  /// is known), stale ones followed by ` [stale binary]`.
  @inlinable
  public static func appendDescription<Bytes>(
    _ frame: Parts<Bytes>, style: Style, to out: inout [UInt8]
  ) {
    switch style {
    case .pretty:
      guard frame.isSymbolized, !frame.isStale else {
        appendUnsymbolized(frame, to: &out)
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
      appendLineColumn(frame, to: &out)
    case .report, .backtrace:
      guard let name = frame.name, !frame.isStale else {
        appendUnsymbolized(frame, to: &out)
        return
      }
      out.append(contentsOf: name)
      guard let file = frame.file else { return }
      let parenthesized = style == .report
      append(parenthesized ? " (" : " ", to: &out)
      if frame.line == 0 && file.elementsEqual(compilerGeneratedFile.utf8) {
        // Swift's compiler-generated code: no file to name.
        append("<compiler-generated>", to: &out)
      } else {
        out.append(contentsOf: file)
        append(":", to: &out)
        if frame.line == 0 {
          append("<compiler-generated>", to: &out)
        } else {
          NumberText.appendDecimal(frame.line, to: &out)
        }
      }
      if parenthesized { append(")", to: &out) }
    }
  }

  /// A frame of a report read back (`FrameText.location(in:)`): the
  /// function, and the file and line when the frame names them.
  public struct ReportLocation: Equatable, Sendable {
    /// The function as printed (or `module+0xoffset`, or an address).
    public var function: Substring
    /// The file, or `<compiler-generated>`; nil when none is printed.
    public var file: Substring?
    /// The line; 0 when none is printed (or the code is compiler-generated).
    public var line: Int
    /// Marked ` [inlined]`.
    public var isInlined: Bool
  }

  /// Reads back a frame as a report prints it, in either layout (`report`:
  /// `f (file:line)`, or `backtrace`: `f file:line`), maybe followed by
  /// ` [inlined]`; also `file:line:column` of earlier versions. The
  /// location is the first ` (` or space followed by a path (`/`, `.`) or
  /// `<compiler-generated>` that reads as one to the end, else the last
  /// one that does (a path may hold spaces; a function, `(_:)`, never ends
  /// as a location does); with none, the text is the function alone.
  public static func location(in text: Substring) -> ReportLocation {
    var body = text
    let inlined = body.hasSuffix(" [inlined]")
    if inlined { body = body.dropLast(" [inlined]".count) }
    func isPathStart(_ location: Substring) -> Bool {
      location.first == "/" || location.first == "." || location.hasPrefix("<compiler-generated>")
    }
    var last: ReportLocation? = nil
    var index = body.startIndex
    while let space = body[index...].firstIndex(of: " ") {
      index = body.index(after: space)
      var rest = body[index...]
      if rest.first == "(" {
        guard rest.hasSuffix(")"), rest.count >= 2 else { continue }
        rest = rest.dropFirst().dropLast()
      }
      guard let (file, line) = Self.fileAndLine(rest) else { continue }
      let location = ReportLocation(
        function: body[..<space], file: file, line: line, isInlined: inlined)
      if isPathStart(rest) { return location }
      last = location
    }
    return last ?? ReportLocation(function: body, file: nil, line: 0, isInlined: inlined)
  }

  /// `file:line`, `file:line:column`, `file:<compiler-generated>` or
  /// `<compiler-generated>` (line 0); nil for anything else.
  static func fileAndLine(_ text: Substring) -> (Substring, Int)? {
    let marker = "<compiler-generated>"
    if text == marker { return (text, 0) }
    if text.hasSuffix(":" + marker) {
      let file = text.dropLast(marker.count + 1)
      return file.isEmpty ? nil : (file, 0)
    }
    let parts = text.split(separator: ":", omittingEmptySubsequences: false)
    guard parts.count >= 2, let last = Int(parts[parts.count - 1]), last > 0 else { return nil }
    // file:line:column when the part before the last is a number too.
    let numbers = parts.count >= 3 && Int(parts[parts.count - 2]) != nil ? 2 : 1
    let fileEnd = parts[parts.count - numbers - 1].endIndex
    let file = text[..<fileEnd]
    guard !file.isEmpty, let line = Int(parts[parts.count - numbers]), line > 0 else { return nil }
    return (file, line)
  }

  /// `:line`, and `:column` when the column is known.
  @inlinable
  static func appendLineColumn<Bytes>(_ frame: Parts<Bytes>, to out: inout [UInt8]) {
    append(":", to: &out)
    NumberText.appendDecimal(frame.line, to: &out)
    if frame.column > 0 {
      append(":", to: &out)
      NumberText.appendDecimal(frame.column, to: &out)
    }
  }

  /// `module+0xoffset`, or the bare address without a module; then the
  /// stale marker for a stale frame.
  @inlinable
  static func appendUnsymbolized<Bytes>(_ frame: Parts<Bytes>, to out: inout [UInt8]) {
    if let module = frame.module {
      out.append(contentsOf: module)
      append("+", to: &out)
      NumberText.appendHex(frame.moduleOffset, to: &out)
    } else {
      NumberText.appendHex(frame.address, to: &out)
    }
    if frame.isStale { append(staleMarker, to: &out) }
  }

  /// One JSON object on one line: `{"address": "0x…", "frames": [{"function":
  /// …, "file": …, "line": …, "column": …, "inlined": …, "module": …,
  /// "offset": "0x…"}]}`, unknown strings `null`, `"stale": true` added for
  /// stale frames. `parts` gives JSON-escaped strings.
  @inlinable
  public static func appendJSON<Bytes>(
    address: UInt64, frameCount: Int, parts: (Int) -> Parts<Bytes>, to out: inout [UInt8]
  ) {
    append(#"{"address": ""#, to: &out)
    NumberText.appendHex(address, to: &out)
    append(#"", "frames": ["#, to: &out)
    for index in 0..<frameCount {
      let frame = parts(index)
      append(index > 0 ? #", {"function": "# : #"{"function": "#, to: &out)
      appendJSONString(frame.name, to: &out)
      append(#", "file": "#, to: &out)
      appendJSONString(frame.file, to: &out)
      append(#", "line": "#, to: &out)
      NumberText.appendDecimal(frame.line, to: &out)
      append(#", "column": "#, to: &out)
      NumberText.appendDecimal(frame.column, to: &out)
      append(frame.isInlined ? #", "inlined": true"# : #", "inlined": false"#, to: &out)
      append(#", "module": "#, to: &out)
      appendJSONString(frame.module, to: &out)
      append(#", "offset": ""#, to: &out)
      NumberText.appendHex(frame.moduleOffset, to: &out)
      append(#"""#, to: &out)
      if frame.isStale { append(#", "stale": true"#, to: &out) }
      append("}", to: &out)
    }
    append("]}", to: &out)
  }

  /// `"escaped"`, or `null`.
  @inlinable
  static func appendJSONString<Bytes: Collection<UInt8>>(
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

  /// Appends a literal.
  @inlinable @inline(__always)
  public static func append(_ literal: StaticString, to out: inout [UInt8]) {
    out.append(
      contentsOf: UnsafeBufferPointer(start: literal.utf8Start, count: literal.utf8CodeUnitCount))
  }
}
