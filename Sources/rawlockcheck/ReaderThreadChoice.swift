import ArgumentParser

#if canImport(Glibc)
  import Glibc
#endif

/// `report --reader-thread`: whether a trace is read on a thread of its own
/// while the main thread validates (`TraceReader.readOnTwoThreads`).
enum ReaderThreadChoice: String, ExpressibleByArgument, CaseIterable {
  /// On when this process may run on more than one core, except for a
  /// regular file under `smallTraceBytes`.
  case auto
  /// Always on.
  case on
  /// Always off: the trace is read on the validating thread.
  case off

  /// Whether to read the trace at `path` on a second thread. `auto`
  /// leaves a regular file under `smallTraceBytes` on one thread: for a
  /// trace read in a few milliseconds, starting the thread and handing
  /// over its batches costs more than the overlap gains (`report` of
  /// 16,000 traces of a few events each spent a third of its time there).
  func isOn(forTraceAt path: String) -> Bool {
    switch self {
    case .on: return true
    case .off: return false
    case .auto:
      guard Self.processCores > 1 else { return false }
      var info = stat()
      let found = path == "-" ? fstat(0, &info) : stat(path, &info)
      if found == 0, info.st_mode & S_IFMT == S_IFREG, info.st_size < Self.smallTraceBytes {
        return false
      }
      return true
    }
  }

  /// The size under which `auto` reads a regular file on one thread:
  /// 1 MiB, about 70,000 text events or 300,000 binary ones.
  static let smallTraceBytes = 1 << 20

  /// `availableCores()`, read once per process.
  static let processCores = availableCores()

  /// The cores this process may run on, from its affinity mask
  /// (`Cpus_allowed` in /proc/self/status: `taskset -c 0` gives 1); the
  /// online cores when that cannot be read; at least 1.
  static func availableCores() -> Int {
    let online = max(Int(sysconf(Int32(_SC_NPROCESSORS_ONLN))), 1)
    guard let file = fopen("/proc/self/status", "r") else { return online }
    defer { fclose(file) }
    var line = [CChar](repeating: 0, count: 4096)
    while fgets(&line, Int32(line.count), file) != nil {
      let text = String(
        decoding: line.prefix { $0 != 0 }.map { UInt8(bitPattern: $0) }, as: UTF8.self)
      guard text.hasPrefix("Cpus_allowed:") else { continue }
      let count = text.dropFirst("Cpus_allowed:".count).reduce(0) { total, c in
        total + (c.hexDigitValue?.nonzeroBitCount ?? 0)
      }
      return max(count, 1)
    }
    return online
  }
}
