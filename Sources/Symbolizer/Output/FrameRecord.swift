/// One frame as the symbolizer engine computes it: plain numbers, no
/// references, so that producing a stream of answers (`SymbolizedBatch`)
/// costs no reference counting and no allocation per frame.
///
/// Invariants: `name` indexes the engine's name table and `file` its file
/// table, -1 meaning unknown; `line == 0` means no line (`<compiler-generated>`
/// when a file is known); every record of an address but the last has
/// `isInlined == true`.
struct FrameRecord: Sendable, Hashable {
  var name: Int32
  var file: Int32
  var line: Int32
  var column: Int32
  var isInlined: Bool
  /// `file` is only the `STT_FILE` symbol before the function's (no DWARF).
  var fileFromSymbolTable = false

  /// A frame of which nothing is known but its address and module.
  static let unknown = FrameRecord(name: -1, file: -1, line: 0, column: 0, isInlined: false)
}

/// Where an inlined call was made from: `DW_AT_call_file` (as a file table
/// id, -1 when absent), `DW_AT_call_line` and `DW_AT_call_column` (0 when
/// absent).
struct CallSite {
  var file: Int32
  var line: Int32
  var column: Int32
}
