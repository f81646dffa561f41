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

  /// The error of a reading interrupted (`reason`) before the header of
  /// the file (`kind`: a trace, a graph file) was read: there is nothing
  /// to report on.
  static func beforeHeader(_ reason: String, of kind: String = "trace") -> String {
    "\(reason) before the \(kind)'s header: nothing read"
  }

  /// Opens the FIFO at `path` for reading, waiting for its writer in
  /// steps that ask `interruption`: nil when `path` is no FIFO. A plain
  /// `open` of a FIFO no process has opened for writing waits until one
  /// does, through any signal (the handler's `SA_RESTART` restarts it).
  /// Opened without waiting (`O_NONBLOCK`), it reports nothing to
  /// `poll` until a writer has come (Linux reports a hang-up only once
  /// one came and went), and it is then made blocking again.
  /// - Throws: the reason `interruption` gave first, or why it cannot be
  ///   opened, as a message.
  static func openFIFO(
    _ path: String, _ interruption: TraceInterruption, kind: String
  ) throws(OpenedTraceInput.OpenFailure) -> Int32? {
    var info = stat()
    guard stat(path, &info) == 0, info.st_mode & S_IFMT == S_IFIFO else { return nil }
    let fd = open(path, O_RDONLY | O_NONBLOCK | O_CLOEXEC)
    if fd < 0 {
      throw OpenedTraceInput.OpenFailure(message: OpenedTraceInput.openFailureMessage(path))
    }
    if let reason = interruptedBeforeInput(on: fd, interruption) {
      close(fd)
      throw OpenedTraceInput.OpenFailure(message: beforeHeader(reason, of: kind))
    }
    _ = fcntl(fd, F_SETFL, fcntl(fd, F_GETFL) & ~O_NONBLOCK)
    return fd
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
