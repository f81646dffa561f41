/// A trace that cannot be read: one line naming the file, the line and what
/// was expected (`trace.rlt:12: unknown class "zone_lok"`).
public struct TraceError: Error, Equatable, Sendable, CustomStringConvertible {
  /// The trace's name as messages show it.
  public var file: String
  /// The 1-based line, or 0 when the error is about the file as a whole.
  public var line: Int64
  /// What was expected or is wrong.
  public var message: String

  /// An error at `line` (0: the whole file) of `file`.
  public init(file: String, line: Int64, message: String) {
    self.file = file
    self.line = line
    self.message = message
  }

  /// `file:line: message`, or `file: message` without a line.
  public var description: String {
    line > 0 ? "\(file):\(line): \(message)" : "\(file): \(message)"
  }
}
