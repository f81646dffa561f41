#if canImport(Glibc)
  import Glibc
#elseif canImport(Darwin)
  import Darwin
#endif

/// A trace opened once, with its first bytes already read to tell its
/// encoding: a pipe (standard input) cannot be read twice, so the reader of
/// that encoding starts from these bytes and goes on reading the same
/// descriptor.
///
/// Invariant: until `take()`, the descriptor is open and owned here, and
/// `prefix` holds the bytes read from it so far (at most 4).
final class OpenedTraceInput: @unchecked Sendable {
  private var descriptor: Int32
  /// The first bytes, read to tell the encoding.
  let prefix: [UInt8]
  /// The file's size, when it is a regular file.
  let fileSize: UInt64?

  /// `path` opened for reading. Standard input (`/dev/stdin`, as `-` is
  /// named) that is not a regular file is duplicated rather than opened
  /// again: opening a FIFO again whose writer has closed it waits for a
  /// new writer forever (`report - < fifo`). A regular file is opened
  /// again, for an offset of its own.
  static func openForReading(_ path: String) -> Int32 {
    if path == "/dev/stdin" {
      var info = stat()
      if fstat(0, &info) == 0 && (info.st_mode & S_IFMT) != S_IFREG {
        return fcntl(0, F_DUPFD_CLOEXEC, 0)
      }
    }
    return open(path, O_RDONLY | O_CLOEXEC)
  }

  /// Opens `path` and reads its first bytes.
  /// - Throws: why it cannot be opened or read, as a message.
  init(path: String) throws(OpenFailure) {
    let fd = Self.openForReading(path)
    if fd < 0 { throw OpenFailure(message: "cannot open: \(String(cString: strerror(errno)))") }
    var info = stat()
    if fstat(fd, &info) == 0 && (info.st_mode & S_IFMT) == S_IFDIR {
      close(fd)
      throw OpenFailure(message: "cannot open: is a directory")
    }
    fileSize = (info.st_mode & S_IFMT) == S_IFREG ? UInt64(info.st_size) : nil
    do {
      prefix = try Self.readPrefix(fd)
    } catch {
      close(fd)
      throw error
    }
    descriptor = fd
  }

  /// Up to the first 4 bytes of `fd` (fewer at its end).
  static func readPrefix(_ fd: Int32) throws(OpenFailure) -> [UInt8] {
    var bytes = [UInt8](repeating: 0, count: 4)
    var count = 0
    while count < bytes.count {
      let n = bytes.withUnsafeMutableBytes { read(fd, $0.baseAddress! + count, 4 - count) }
      if n < 0 && errno == EINTR { continue }
      if n < 0 { throw OpenFailure(message: "read failed: \(String(cString: strerror(errno)))") }
      if n == 0 { break }
      count += n
    }
    return Array(bytes.prefix(count))
  }

  deinit {
    if descriptor >= 0 { close(descriptor) }
  }

  /// The encoding its first bytes name.
  var encoding: TraceEncoding { TraceEncoding.detect(prefix: prefix) }

  /// Hands the descriptor (positioned after `prefix`) to the caller, who
  /// closes it; once only.
  private func take() -> Int32 {
    precondition(descriptor >= 0, "an opened trace is read once")
    defer { descriptor = -1 }
    return descriptor
  }

  /// A reader's start: a new buffer of `capacity` bytes (at least the
  /// prefix's) holding the bytes read so far, how many, and the descriptor
  /// (`take()`), which the caller now reads on, then closes and deallocates.
  func take(intoBufferOf capacity: Int) -> (
    buffer: UnsafeMutableRawBufferPointer, filled: Int, descriptor: Int32
  ) {
    precondition(capacity >= prefix.count)
    let buffer = UnsafeMutableRawBufferPointer.allocate(byteCount: capacity, alignment: 16)
    prefix.withUnsafeBytes { buffer.copyMemory(from: $0) }
    return (buffer, prefix.count, take())
  }

  /// Why a trace could not be opened.
  struct OpenFailure: Error {
    let message: String
  }
}
