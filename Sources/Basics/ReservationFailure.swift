/// What happens when memory the validator cannot run without cannot be
/// had (address space that `ulimit -v` leaves too small to reserve the
/// class table): by default a `fatalError` with the message (a program
/// validating its locks live stops there, with a backtrace); the
/// command-line tool sets `handler` to print the message in one line and
/// exit with status 2, as for any input it cannot take.
public enum ReservationFailure {
  /// Called with the message; set once, before any validator is made.
  nonisolated(unsafe) public static var handler: (String) -> Never = { fatalError($0) }
}
