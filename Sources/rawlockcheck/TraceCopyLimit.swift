import Trace

#if canImport(Glibc)
  import Glibc
#endif

/// How far `RereadableInput` copies a stream (standard input, a FIFO, a
/// device): while what it copied can still read as a trace. A stream that
/// cannot (`/dev/zero`, `yes`) is copied only up to where a reader stops
/// at it, so that the copy, on disk, is bounded and the reader still says
/// why the input does not read, at the line where it does not.
///
/// The stream reads as a trace while it starts with the binary magic, or
/// is text whose lines before the header are blank or comments (a byte
/// order mark first) and no longer than a reader takes, until a line
/// starting with the header's word, and whose lines after it are no
/// longer either. Invariant: `accepts` turns false once, and stays false.
struct TraceCopyLimit {
  /// What the bytes so far are.
  private enum State {
    /// Not yet known: the first line that is not blank or a comment, or
    /// the magic, has not been seen whole.
    case undecided
    /// Binary: copied to its end (a binary reader stops at a bad record).
    case binary
    /// Text after its header: `lineLength` bytes since the last newline.
    case text
    /// Not a trace, or a line no reader takes: copy no more.
    case refused
  }

  private var state = State.undecided
  /// The bytes seen while undecided (at most a line's length and a bit).
  private var start: [UInt8] = []
  /// Bytes since the last newline, in text.
  private var lineLength = 0
  /// `start` begins at the stream's first byte (where a byte order mark
  /// may be), not at a later line.
  private var atStreamStart = true

  /// Whether copying goes on after the bytes `chunk` (already copied).
  var accepts: Bool {
    if case .refused = state { return false }
    return true
  }

  /// Takes the next bytes of the stream.
  mutating func take(_ chunk: UnsafeRawBufferPointer) {
    switch state {
    case .binary, .refused: return
    case .text: countLines(chunk)
    case .undecided:
      start += chunk
      decide()
    }
  }

  private mutating func decide() {
    if BinaryTraceFormat.isBinary(prefix: start.prefix(BinaryTraceFormat.magic.count)) {
      if start.count >= BinaryTraceFormat.magic.count { state = .binary }
      return
    }
    let bom: [UInt8] = [0xEF, 0xBB, 0xBF]
    var lineStart = atStreamStart && start.starts(with: bom) ? bom.count : 0
    while let newline = start[lineStart...].firstIndex(of: UInt8(ascii: "\n")) {
      let line = start[lineStart..<newline].drop { $0 == 0x20 || $0 == 0x09 || $0 == 0x0D }
      if !(line.isEmpty || line.first == UInt8(ascii: "#")) {
        state = line.starts(with: Array("rawlockcheck-trace".utf8)) ? .text : .refused
        if case .text = state {
          start[(newline + 1)...].withUnsafeBytes { countLines($0) }
        }
        start = []
        return
      }
      lineStart = newline + 1
    }
    if start.count - lineStart > TextTraceReader.maxLineLength {
      state = .refused
      start = []
    } else if lineStart > 0 {
      start.removeFirst(lineStart)
      atStreamStart = false
    }
  }

  private mutating func countLines(_ bytes: UnsafeRawBufferPointer) {
    guard let base = bytes.baseAddress,
      let first = memchr(base, 0x0A, bytes.count).map({ UnsafeRawPointer($0) })
    else {
      lineLength += bytes.count
      if lineLength > TextTraceReader.maxLineLength { state = .refused }
      return
    }
    // The line the chunk ends, then its whole lines, then the one it begins.
    var longest = lineLength + (first - base)
    var lineStart = first + 1
    let end = base + bytes.count
    while let newline = memchr(lineStart, 0x0A, end - lineStart).map({ UnsafeRawPointer($0) }) {
      longest = max(longest, newline - lineStart)
      lineStart = newline + 1
    }
    lineLength = end - lineStart
    if max(longest, lineLength) > TextTraceReader.maxLineLength { state = .refused }
  }
}
