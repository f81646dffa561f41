#if canImport(Glibc)
  import Glibc
#elseif canImport(Darwin)
  import Darwin
#endif

/// Waits for a pipe's next bytes in steps, asking an interruption between
/// them, so that a signal ends the reading of a trace whose writer has
/// gone quiet (`rawlockcheck report -` fed by a program that hangs, a
/// FIFO): a `read` the signal handler restarts (`SA_RESTART`, which a
/// FIFO's `open` needs) would wait for the next bytes, perhaps forever.
///
/// A regular file never waits, and is read without this.
enum InputWait {
  /// The longest wait between two questions, in milliseconds: how long a
  /// signal delivered to another thread than the reading one (poll is not
  /// restarted on the thread the signal comes to) may take to end the
  /// reading.
  static let step: Int32 = 100

  /// The error of a reading interrupted (`reason`) before the trace's
  /// header was read: there is no trace to report on.
  static func beforeHeader(_ reason: String) -> String {
    "\(reason) before the trace's header: nothing read"
  }

  /// Whether `fd` has bytes or its end to read, waiting as long as it
  /// takes; nil when it does, else the reason `interruption` gave first.
  /// A `poll` that fails says nothing: the `read` after it says why.
  static func interruptedBeforeInput(
    on fd: Int32, _ interruption: TraceInterruption?
  ) -> String? {
    guard let interruption else { return nil }
    while true {
      if let reason = interruption.reason() { return reason }
      var entry = pollfd(fd: fd, events: Int16(POLLIN), revents: 0)
      let ready = poll(&entry, 1, step)
      if ready > 0 || (ready < 0 && errno != EINTR) { return nil }
    }
  }
}
