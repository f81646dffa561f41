import Basics

#if canImport(Glibc)
  import Glibc
#endif

/// A progress bar on stderr, drawn only when stderr is a terminal and the
/// trace takes long enough to be worth one (half a second): bytes read,
/// rate and elapsed time, and for a regular file the fraction done and the
/// estimated time left. Silent when stderr is not a terminal.
///
/// The line fits the terminal's width (one column short of it, so that it
/// never wraps: a wrapped line leaves its first row behind at each
/// redrawing), is redrawn over itself with `\r` and cleared with `ESC[K`,
/// or, where `TERM` is `dumb` (or unset), with spaces; a signal that ends
/// the run clears it (`InterruptCleanup`), so the shell's prompt starts on
/// a clean line.
final class ProgressBar: @unchecked Sendable {
  private let label: String
  private let enabled: Bool
  private let started: Double
  private var lastDrawn = 0.0
  private var drawn = false
  /// The terminal takes no escape sequences: the bar is cleared with spaces.
  private let dumb: Bool
  /// The width of the line last drawn (for clearing it with spaces).
  private var drawnWidth = 0

  /// Seconds before the first drawing, so that short runs print nothing.
  static let delay = 0.5
  /// Seconds between redrawings.
  static let interval = 0.2

  /// `label` (a trace's path) shows escaped (`QuotedText.printable`): the
  /// bar is written to the terminal as it is.
  init(label: String, enabled: Bool = isatty(2) != 0) {
    self.label = QuotedText.printable(label)
    self.enabled = enabled
    self.started = MonotonicClock.now()
    let term = getenv("TERM").map { String(cString: $0) } ?? ""
    dumb = term.isEmpty || term == "dumb"
  }

  /// The columns of the terminal on stderr (80 when it does not say).
  static func terminalColumns() -> Int {
    var size = winsize()
    guard ioctl(2, UInt(TIOCGWINSZ), &size) == 0, size.ws_col > 0 else { return 80 }
    return Int(size.ws_col)
  }

  /// Called by the reader with bytes read so far and the file's size (nil
  /// for a pipe or standard input).
  func update(_ done: UInt64, _ total: UInt64?) {
    guard enabled else { return }
    let now = MonotonicClock.now()
    let elapsed = now - started
    guard elapsed >= Self.delay, now - lastDrawn >= Self.interval else { return }
    lastDrawn = now
    let text = Self.fitted(
      label: label, done: done, total: total, elapsed: elapsed,
      columns: Self.terminalColumns() - 1)
    let width = text.unicodeScalars.count
    let clear =
      dumb ? String(repeating: " ", count: max(drawnWidth - width, 0)) : "\u{1B}[K"
    if !drawn { InterruptCleanup.barDrawn(dumb: dumb) }
    writeStandardErrorUnescaped("\r" + text + clear)
    drawn = true
    drawnWidth = width
  }

  /// Clears the bar, if one was drawn.
  func finish() {
    if drawn {
      let clear = dumb ? String(repeating: " ", count: drawnWidth) + "\r" : "\u{1B}[K"
      writeStandardErrorUnescaped("\r" + clear)
      InterruptCleanup.barCleared()
    }
    drawn = false
  }

  /// `line(...)` in at most `columns` characters: the bar drawn narrower
  /// first (down to 8), then the label cut from its start (`...` and
  /// its end, the file's name), then the line cut.
  static func fitted(
    label: String, done: UInt64, total: UInt64?, elapsed: Double, columns: Int
  ) -> String {
    let columns = max(columns, 1)
    var width = 24
    var text = line(label: label, done: done, total: total, elapsed: elapsed, width: width)
    var excess = text.unicodeScalars.count - columns
    if excess > 0, total != nil {
      let narrower = max(8, width - excess)
      excess -= width - narrower
      width = narrower
      text = line(label: label, done: done, total: total, elapsed: elapsed, width: width)
    }
    let labelLength = label.unicodeScalars.count
    if excess > 0, labelLength > 3 {
      let keep = max(labelLength - excess - 3, 8)
      if keep < labelLength - 3 {
        let cut = "..." + String(String.UnicodeScalarView(label.unicodeScalars.suffix(keep)))
        text = line(label: cut, done: done, total: total, elapsed: elapsed, width: width)
      }
    }
    if text.unicodeScalars.count > columns {
      text = String(String.UnicodeScalarView(text.unicodeScalars.prefix(columns)))
    }
    return text
  }

  /// The bar's text, without terminal controls:
  /// `trace.rlt [#####.........] 33% 46.7/140.0 MiB 23.3 MiB/s 0:02 elapsed 0:04 left`,
  /// or without a total `- 46.7 MiB 23.3 MiB/s 0:02 elapsed`.
  static func line(label: String, done: UInt64, total: UInt64?, elapsed: Double, width: Int = 24)
    -> String
  {
    let rate = elapsed > 0 ? Double(done) / elapsed : 0
    let speed = "\(mebibytes(rate)) MiB/s \(clock(elapsed)) elapsed"
    guard let total, total > 0 else { return "\(label) \(mebibytes(Double(done))) MiB \(speed)" }
    let fraction = min(Double(done) / Double(total), 1)
    let filled = Int(fraction * Double(width))
    let bar = String(repeating: "#", count: filled) + String(repeating: ".", count: width - filled)
    var text =
      "\(label) [\(bar)] \(Int(fraction * 100))% \(mebibytes(Double(done)))/\(mebibytes(Double(total))) MiB \(speed)"
    if rate > 0 && done < total {
      text += " \(clock(Double(total - done) / rate)) left"
    }
    return text
  }

  /// Bytes as mebibytes with one decimal.
  static func mebibytes(_ bytes: Double) -> String {
    let tenths = Int((bytes / 1_048_576 * 10).rounded())
    return "\(tenths / 10).\(tenths % 10)"
  }

  /// Seconds as `m:ss`, or `h:mm:ss` from an hour on.
  static func clock(_ seconds: Double) -> String {
    let s = Int(seconds.rounded())
    func two(_ n: Int) -> String { n < 10 ? "0\(n)" : "\(n)" }
    if s >= 3600 { return "\(s / 3600):\(two(s / 60 % 60)):\(two(s % 60))" }
    return "\(s / 60):\(two(s % 60))"
  }
}
