#if canImport(Glibc)
  import Glibc
#endif

/// The whitespace-separated tokens of a file descriptor (`symbolize`'s
/// standard input), read in 64 KiB chunks without building a string per
/// line.
///
/// Each chunk's complete lines are handed out, then `drained` is called
/// before the next read, which may block: a client that writes one address
/// and waits for the answer (as sanitizers drive llvm-symbolizer) gets it,
/// while a file is answered in a few large writes.
///
/// Invariants: a token never spans two lines; line numbers are 1-based and
/// count `\n`; a last line without `\n` is still read at end of input; the
/// buffer never holds more than `maxLineLength + 1` bytes, so a longer line
/// is refused (`LineTooLong`) without being read whole.
struct TokenReader {
  let descriptor: Int32

  /// The longest line accepted, in bytes without its `\n`: 1 MiB, as the
  /// trace reader's.
  static let maxLineLength = 1 << 20

  /// A line longer than `maxLineLength`, with its number.
  struct LineTooLong: Error {
    var line: Int
  }

  /// A failed read (not `EINTR`), with its `errno`.
  struct ReadError: Error {
    var code: Int32
    var message: String { String(cString: strerror(code)) }
  }

  /// Calls `body` with each token and its line number, and `drained` each
  /// time every complete line read so far has been handed out. Throws
  /// `ReadError` when a read fails and `LineTooLong` at a line longer than
  /// `maxLineLength` (each after handing out what came before).
  func forEachToken(
    _ body: (UnsafeBufferPointer<UInt8>, Int) throws -> Void, drained: () throws -> Void
  ) throws {
    var buffer = [UInt8](repeating: 0, count: 1 << 16)
    var kept = 0  // the start of an incomplete line, moved to the front
    var line = 1
    while true {
      // At most `maxLineLength + 1` bytes are kept: a longer line is
      // refused here, before the read that could return nothing for want
      // of room (and be taken for the end of input).
      if kept > Self.maxLineLength { throw LineTooLong(line: line) }
      if kept == buffer.count {
        // One line longer than the buffer: make room for the rest of it,
        // up to one byte more than the longest line accepted.
        let size = min(buffer.count * 2, Self.maxLineLength + 1)
        buffer += [UInt8](repeating: 0, count: size - buffer.count)
      }
      let count = buffer.withUnsafeMutableBytes {
        read(descriptor, $0.baseAddress! + kept, $0.count - kept)
      }
      if count < 0, errno == EINTR { continue }
      let failure = count < 0 ? errno : 0
      let end = kept + max(count, 0)
      let atEnd = count <= 0
      let limit = try buffer.withUnsafeBufferPointer { bytes in
        var limit = end
        if !atEnd {
          limit = 0
          var index = end - 1
          while index >= 0 {
            if bytes[index] == UInt8(ascii: "\n") {
              limit = index + 1
              break
            }
            index -= 1
          }
        }
        var index = 0
        while index < limit {
          let byte = bytes[index]
          if byte == UInt8(ascii: "\n") {
            line += 1
            index += 1
          } else if Self.isSpace(byte) {
            index += 1
          } else {
            let start = index
            while index < limit, !Self.isSpace(bytes[index]), bytes[index] != UInt8(ascii: "\n") {
              index += 1
            }
            try body(UnsafeBufferPointer(rebasing: bytes[start..<index]), line)
          }
        }
        return limit
      }
      kept = end - limit
      if kept > 0, limit > 0 {
        buffer.withUnsafeMutableBytes {
          $0.baseAddress!.copyMemory(from: $0.baseAddress! + limit, byteCount: kept)
        }
      }
      try drained()
      if failure != 0 { throw ReadError(code: failure) }
      if atEnd { return }
    }
  }

  private static func isSpace(_ byte: UInt8) -> Bool {
    byte == UInt8(ascii: " ") || byte == UInt8(ascii: "\t") || byte == UInt8(ascii: "\r")
  }
}
