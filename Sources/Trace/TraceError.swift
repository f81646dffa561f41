/// A trace that cannot be read: one line naming the file, the line (text)
/// or byte offset (binary) and what was expected
/// (`trace.rlt:12: unknown class "zone_lok"`,
/// `trace.rltb: byte 1234: unknown record type 0x17`).
public struct TraceError: Error, Equatable, Sendable, CustomStringConvertible {
  /// The trace's name as messages show it.
  public var file: String
  /// The 1-based line, or 0 when the error is about the file as a whole
  /// or the trace is binary.
  public var line: Int64
  /// The offset of the binary record at fault, or nil.
  public var byte: UInt64?
  /// What was expected or is wrong.
  public var message: String
  /// Whether the file shrank while it was read: what was read past its
  /// new end (a mapped file's last page reads as zeros) is not the
  /// file's, so this error goes before any that reading made.
  public var fileShrank = false

  /// An error at `line` (0: the whole file) of `file`.
  public init(file: String, line: Int64, message: String) {
    self.file = file
    self.line = line
    self.byte = nil
    self.message = message
  }

  /// An error at byte `byte` of a binary trace.
  public init(file: String, byte: UInt64, message: String) {
    self.file = file
    self.line = 0
    self.byte = byte
    self.message = message
  }

  /// `file:line: message`, `file: byte N: message`, or `file: message`.
  public var description: String {
    if let byte { return "\(file): byte \(byte): \(message)" }
    return line > 0 ? "\(file):\(line): \(message)" : "\(file): \(message)"
  }
}
