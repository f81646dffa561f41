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
    let width = Self.columns(text)
    let clear =
      dumb ? String(repeating: " ", count: max(drawnWidth - width, 0)) : "\u{1B}[K"
    if !drawn { InterruptCleanup.barDrawn(dumb: dumb) }
    writeStandardErrorUnescaped("\r" + text + clear)
    drawn = true
    drawnWidth = width
  }

  /// Clears the bar, if one was drawn: at the end of a trace, and before a
  /// message is written to stderr (a warning, or where an interrupt ended
  /// the reading), which would otherwise print over the bar. The next
  /// `update` draws it again, on the line after the message.
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
    var excess = Self.columns(text) - columns
    if excess > 0, total != nil {
      let narrower = max(8, width - excess)
      excess -= width - narrower
      width = narrower
      text = line(label: label, done: done, total: total, elapsed: elapsed, width: width)
    }
    let labelWidth = Self.columns(label)
    if excess > 0, labelWidth > 3 {
      // The label's end, in what is left for it after `...` (8 at least).
      let room = max(labelWidth - excess - 3, 8)
      if room < labelWidth - 3 {
        var kept = String.UnicodeScalarView()
        var used = 0
        for scalar in label.unicodeScalars.reversed() {
          used += Self.columns(of: scalar)
          if used > room { break }
          kept.append(scalar)
        }
        let cut = "..." + String(String.UnicodeScalarView(kept.reversed()))
        text = line(label: cut, done: done, total: total, elapsed: elapsed, width: width)
      }
    }
    if Self.columns(text) > columns {
      var kept = String.UnicodeScalarView()
      var used = 0
      for scalar in text.unicodeScalars {
        used += Self.columns(of: scalar)
        if used > columns { break }
        kept.append(scalar)
      }
      text = String(kept)
    }
    return text
  }

  /// The terminal columns `text` takes (`columns(of:)` of each scalar).
  static func columns(_ text: String) -> Int {
    text.unicodeScalars.reduce(0) { $0 + columns(of: $1) }
  }

  /// The columns a terminal gives `scalar`, as `wcwidth()` does for the
  /// common cases: 2 for East Asian wide and full-width characters and
  /// emoji, 0 for combining marks and zero-width characters, else 1.
  static func columns(of scalar: Unicode.Scalar) -> Int {
    let v = scalar.value
    if v < 0x300 { return 1 }
    switch v {
    case 0x300...0x36F, 0x1AB0...0x1AFF, 0x1DC0...0x1DFF, 0x200B...0x200F, 0x20D0...0x20FF,
      0xFE00...0xFE0F, 0xFE20...0xFE2F:
      return 0
    case 0x1100...0x115F, 0x2E80...0x303E, 0x3041...0x33FF, 0x3400...0x4DBF, 0x4E00...0x9FFF,
      0xA000...0xA4CF, 0xAC00...0xD7A3, 0xF900...0xFAFF, 0xFE30...0xFE4F, 0xFF00...0xFF60,
      0xFFE0...0xFFE6, 0x1F300...0x1F64F, 0x1F900...0x1F9FF, 0x20000...0x3FFFD:
      return 2
    default:
      return 1
    }
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
