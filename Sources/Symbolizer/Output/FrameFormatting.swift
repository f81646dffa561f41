import Basics

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
/// line 0 prints as `<compiler-generated>`. Stale frames get ` [stale binary]`,
/// and a function known only from the symbol table prints as
/// `name (module+0xoffset)`.
///
/// The forms themselves live in `Basics.FrameText` (its `.pretty` style),
/// shared with `BatchRenderer` and `Report`.
public enum FrameFormatting {
  /// `function at file:line:column`, or the fallback forms described above.
  public static func describe(_ frame: Frame) -> String {
    var out: [UInt8] = []
    FrameText.appendDescription(parts(of: frame, json: false), style: .pretty, to: &out)
    return String(decoding: out, as: UTF8.self)
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
    var bytes: [UInt8] = []
    FrameText.appendText(
      address: symbolized.address, printAddress: printAddress,
      frameCount: symbolized.frames.count,
      parts: { parts(of: symbolized.frames[$0], json: false) }, to: &bytes)
    out += String(decoding: bytes, as: UTF8.self)
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
    var bytes: [UInt8] = []
    FrameText.appendJSON(
      address: symbolized.address, frameCount: symbolized.frames.count,
      parts: { parts(of: symbolized.frames[$0], json: true) }, to: &bytes)
    out += String(decoding: bytes, as: UTF8.self)
  }

  /// A frame's strings as the output wants them: raw for text (the module
  /// by its file name), JSON-escaped for JSON (the module by its path).
  private static func parts(of frame: Frame, json: Bool) -> FrameText.Parts<[UInt8]> {
    func bytes(_ text: String?) -> [UInt8]? {
      guard let text else { return nil }
      // Text escapes what a terminal does not show as itself (a line
      // break in a damaged file's name), as `BatchRenderer` does.
      guard json else { return Array(QuotedText.printable(text).utf8) }
      var out: [UInt8] = []
      JSONText.appendEscaped(text, to: &out)
      return out
    }
    return FrameText.Parts(
      name: bytes(frame.function), file: bytes(frame.file),
      module: bytes(json ? frame.module : frame.moduleName), line: frame.line,
      column: frame.column, isInlined: frame.isInlined, isStale: frame.isStale,
      moduleOffset: frame.moduleOffset, address: frame.address)
  }
}
