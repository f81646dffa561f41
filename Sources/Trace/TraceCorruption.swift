import Synchronization

/// Where a reader keeps the malformed record that ended a binary trace,
/// when its caller would rather have the records before it than nothing:
/// with one set (`TraceReader.corruption`), a malformed record ends the
/// reading as a truncation does, the records before it read, and its
/// error is kept here instead of thrown. `report` prints the report of
/// what was read and the error, and exits with status 2.
///
/// Written by the reading thread, read by its caller once the reading has
/// returned.
public final class TraceCorruption: Sendable {
  private let state = Mutex<TraceError?>(nil)

  /// The malformed record's error, once one ended the reading.
  public internal(set) var error: TraceError? {
    get { state.withLock { $0 } }
    set { state.withLock { $0 = newValue } }
  }

  /// No error yet.
  public init() {}
}
