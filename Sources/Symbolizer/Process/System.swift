import Glibc

/// Facts about the machine.
enum System {
  /// The processors online (at least 1).
  static let processorCount: Int = max(1, Int(sysconf(Int32(_SC_NPROCESSORS_ONLN))))
}
