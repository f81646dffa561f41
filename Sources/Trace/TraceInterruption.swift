/// A way to end a trace's reading early, where it stands (a report told
/// to stop by Ctrl-C, a time limit): asked between batches of events, and
/// on the reading thread when the trace is read on a thread of its own.
///
/// A reason ends the reading as if the trace ended after the last whole
/// line or record handed on; the reader says where in a warning
/// (`trace.rlt:1234: interrupted by SIGINT: read up to this line`), and
/// returns the trace's symbols as at its end. A trace is read at least up
/// to the end of its header.
public struct TraceInterruption: Sendable {
  /// Why the reading ends now, or nil to go on. Called once a batch of
  /// events: it must be cheap, and safe on any thread.
  public let reason: @Sendable () -> String?

  /// An interruption that ends the reading when `reason` returns a reason.
  public init(reason: @escaping @Sendable () -> String?) {
    self.reason = reason
  }
}
