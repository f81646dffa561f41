/// A declaration a trace writer cannot write: the text encoding has no
/// way to hold a control character (other than tab) in a token, so a class
/// or thread whose id or name holds one is refused rather than altered
/// (`cannot write class "a\u{A}b" as text: its id holds \u{A}, ...`), nor
/// a line longer than its reader takes (1 MiB).
public struct TraceWriteError: Error, Equatable, Sendable, CustomStringConvertible {
  /// What cannot be written, and why.
  public var message: String

  /// An error saying `message`.
  public init(_ message: String) { self.message = message }

  /// The message.
  public var description: String { message }
}
