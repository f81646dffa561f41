#if canImport(Glibc)
  import Glibc
#elseif canImport(Darwin)
  import Darwin
#endif

/// Reads a file line by line through one fixed buffer, so memory does not
/// grow with the file. Lines are handed out as views into the buffer, valid
/// until the next call.
///
/// Invariant: `buffer[start..<end]` holds bytes read but not yet returned.
struct LineReader: ~Copyable {
  /// The longest line accepted; a longer one is an error, not a reason to
  /// grow the buffer.
  static let maxLineLength = 1 << 20
  private let fd: Int32
  private let buffer: UnsafeMutableRawBufferPointer
  private var start = 0
  private var end = 0
  private var atEOF = false
  /// Bytes read from the file so far.
  private(set) var bytesRead: UInt64 = 0
  /// The file's size, when it is a regular file.
  let fileSize: UInt64?
  /// Asked while a pipe is waited for (`InputWait`): a reason ends the
  /// reading (`Failure.interrupted`).
  var interruption: TraceInterruption? = nil
  /// Given every byte read after the first ones (`TraceTee`).
  private let tee: TraceTee?

  enum Failure: Error {
    /// Opening it, or reading its first bytes, failed: the message says why.
    case cannotOpen(String)
    case readFailed(String)
    case lineTooLong
    /// A regular file ended before the size it had when opened: it was
    /// cut while it was read (what was read may not be what it held).
    case shrank(read: UInt64, size: UInt64)
    /// `interruption` gave this reason while a pipe's next bytes were
    /// waited for.
    case interrupted(String)
    /// The `TraceTee` given the bytes read refused them: the message says why.
    case copyFailed(String)
  }

  /// Opens `path`; throws a message saying why it cannot be read.
  /// `opening` is asked while a FIFO's writer or a pipe's first bytes are
  /// waited for (then the file is read whole), and its reason is an
  /// error before the header of the `kind` of file.
  init(
    path: String, opening: TraceInterruption? = nil, kind: String = "trace"
  ) throws(Failure) {
    let opened: OpenedTraceInput
    do {
      opened = try OpenedTraceInput(path: path, interruption: opening, kind: kind)
    } catch {
      throw .cannotOpen(error.message)
    }
    self.init(opened: opened)
  }

  /// Reads an opened trace: its first bytes, then the rest of its
  /// descriptor (which it closes).
  init(opened: OpenedTraceInput) {
    self.fileSize = opened.fileSize
    self.tee = opened.tee
    let whole: UnsafeMutableRawBufferPointer
    (whole, end, fd) = opened.take(
      intoBufferOf: Self.maxLineLength * 2 + TextTraceParser.readSlack)
    // `readSlack` bytes past the buffer, never filled: the event loop's
    // word loads may read them.
    buffer = UnsafeMutableRawBufferPointer(rebasing: whole[..<(Self.maxLineLength * 2)])
    bytesRead = UInt64(end)
    zeroSlack()
  }

  /// Zeroes the `readSlack` bytes after `end` (in the buffer, or past it):
  /// the event loop's word loads may read them, and read memory must be
  /// initialized even where its value does not matter.
  private func zeroSlack() {
    (buffer.baseAddress! + end).initializeMemory(
      as: UInt8.self, repeating: 0, count: TextTraceParser.readSlack)
  }

  deinit {
    close(fd)
    buffer.deallocate()
  }

  /// The bytes read and not yet returned (perhaps none), for parsing in
  /// place: `TextTraceParser.readSlack` readable bytes follow them. Valid
  /// until the next mutating call.
  var pending: (bytes: UnsafeRawPointer, count: Int) {
    (UnsafeRawPointer(buffer.baseAddress! + start), end - start)
  }

  /// Marks the first `count` pending bytes (whole lines) as read.
  mutating func skip(_ count: Int) {
    precondition(count >= 0 && count <= end - start)
    start += count
  }

  /// Whether the line `nextLine()` returned last ended the file without a
  /// `\n` (a trace cut short ends so, perhaps in the middle of a line).
  private(set) var lastLineUnterminated = false

  /// The next line without its `\n` (and a `\r` before it), or nil at end.
  mutating func nextLine() throws(Failure) -> UnsafeRawBufferPointer? {
    while true {
      if start < end {
        let base = buffer.baseAddress! + start
        if let nl = memchr(base, 0x0A, end - start) {
          let length = UnsafeRawPointer(nl) - UnsafeRawPointer(base)
          // The limit is on the line without its `\r`: a CRLF trace
          // reads as the same trace with LF.
          let carriageReturn =
            length > 0 && base.load(fromByteOffset: length - 1, as: UInt8.self) == 0x0D
          if length - (carriageReturn ? 1 : 0) > Self.maxLineLength { throw .lineTooLong }
          start += length + 1
          return Self.trimCR(UnsafeRawBufferPointer(start: base, count: length))
        }
        // One byte more: a `\r` may end a line of the limit's length.
        if end - start > Self.maxLineLength + 1 { throw .lineTooLong }
      }
      if atEOF {
        if start < end {
          let line = UnsafeRawBufferPointer(start: buffer.baseAddress! + start, count: end - start)
          start = end
          lastLineUnterminated = true
          let trimmed = Self.trimCR(line)
          if trimmed.count > Self.maxLineLength { throw .lineTooLong }
          return trimmed
        }
        return nil
      }
      try fill()
    }
  }

  private static func trimCR(_ line: UnsafeRawBufferPointer) -> UnsafeRawBufferPointer {
    if let last = line.last, last == 0x0D {
      return UnsafeRawBufferPointer(rebasing: line.dropLast())
    }
    return line
  }

  private mutating func fill() throws(Failure) {
    if start > 0 {
      let remaining = end - start
      if remaining > 0 {
        memmove(buffer.baseAddress!, buffer.baseAddress! + start, remaining)
      }
      start = 0
      end = remaining
    }
    let space = buffer.count - end
    if space == 0 { throw .lineTooLong }
    if fileSize == nil, let reason = InputWait.interruptedBeforeInput(on: fd, interruption) {
      throw .interrupted(reason)
    }
    let n = read(fd, buffer.baseAddress! + end, space)
    if n < 0 {
      if errno == EINTR { return }
      throw .readFailed(String(cString: strerror(errno)))
    }
    if n > 0, let tee,
      let failure = tee(UnsafeRawBufferPointer(start: buffer.baseAddress! + end, count: n))
    {
      throw .copyFailed(failure)
    }
    if n == 0 {
      // A regular file is read to the size it had when opened, at least:
      // one that ends sooner was truncated meanwhile, and the lines read
      // may be a mix of what it held and what it holds.
      if let fileSize, bytesRead < fileSize { throw .shrank(read: bytesRead, size: fileSize) }
      atEOF = true
    }
    end += n
    bytesRead += UInt64(n)
    zeroSlack()
  }
}
