#if canImport(Glibc)
  import Glibc
#endif

/// A progress bar on stderr, drawn only when stderr is a terminal and the
/// trace is large enough to be worth one.
final class ProgressBar: @unchecked Sendable {
  private let label: String
  private let enabled = isatty(2) != 0
  private var drawn = false

  init(label: String) { self.label = label }

  func update(_ done: UInt64, _ total: UInt64?) {
    guard enabled, let total, total > 16 << 20 else { return }
    let fraction = Double(done) / Double(max(total, 1))
    let width = 30
    let filled = Int(fraction * Double(width))
    let bar = String(repeating: "#", count: filled) + String(repeating: ".", count: width - filled)
    writeStandardError("\r\(label) [\(bar)] \(Int(fraction * 100))%")
    drawn = true
  }

  func finish() {
    if drawn { writeStandardError("\r\u{1B}[K") }
    drawn = false
  }
}
