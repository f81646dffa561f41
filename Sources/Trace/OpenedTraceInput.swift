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
  /// The process writing the file, when one holds it locked (the
  /// recorder `flock`s its trace while it writes): a trace read then is
  /// cut wherever that process had got to.
  let writer: Int32?
  /// Given every byte read, the prefix first (`TraceTee`); a file read
  /// through it is never mapped.
  let tee: TraceTee?

  /// `path` opened for reading. Standard input (`/dev/stdin`, as `-` is
  /// named) that is not a regular file is duplicated rather than opened
  /// again: opening a FIFO again whose writer has closed it waits for a
  /// new writer forever (`report - < fifo`). A regular file is opened
  /// again, for an offset of its own, and starts where standard input's
  /// offset stands (`{ head -n 1 >/dev/null; rawlockcheck report -; } <
  /// trace` reads the rest, as `cat` would). A closed standard input
  /// fails with `EBADF`.
  ///
  /// `/dev/fd/N` naming a descriptor that is not a regular file (a
  /// FIFO `convert` opened, whose first reading must go on reading it)
  /// is duplicated too, for the same reason.
  static func openForReading(_ path: String) -> Int32 {
    if path.hasPrefix("/dev/fd/"), let n = Int32(path.dropFirst("/dev/fd/".count)), n >= 0 {
      var info = stat()
      if fstat(n, &info) == 0, (info.st_mode & S_IFMT) != S_IFREG {
        return fcntl(n, F_DUPFD_CLOEXEC, 0)
      }
    }
    guard path == "/dev/stdin" else { return open(path, O_RDONLY | O_CLOEXEC) }
    var info = stat()
    if fstat(0, &info) != 0 { return -1 }
    if (info.st_mode & S_IFMT) != S_IFREG { return fcntl(0, F_DUPFD_CLOEXEC, 0) }
    let fd = open(path, O_RDONLY | O_CLOEXEC)
    let offset = lseek(0, 0, SEEK_CUR)
    if fd >= 0 && offset > 0 && lseek(fd, offset, SEEK_SET) < 0 {
      let error = errno
      close(fd)
      errno = error
      return -1
    }
    return fd
  }

  /// Why `openForReading(path)` failed, from `errno`.
  static func openFailureMessage(_ path: String) -> String {
    if path == "/dev/stdin" && errno == EBADF { return "cannot open: standard input is closed" }
    return "cannot open: \(String(cString: strerror(errno)))"
  }

  /// Opens `path` and reads its first bytes; `interruption` is asked while
  /// a FIFO's writer or a pipe's first bytes are waited for (`InputWait`),
  /// and its reason is an error before the header of the `kind` of file.
  /// - Throws: why it cannot be opened or read, as a message.
  init(
    path: String, interruption: TraceInterruption? = nil, kind: String = "trace",
    tee: TraceTee? = nil
  ) throws(OpenFailure) {
    self.tee = tee
    let fd: Int32
    // Standard input and `/dev/fd/N` are open already (`openForReading`).
    if path != "/dev/stdin", !path.hasPrefix("/dev/fd/"), let interruption,
      let fifo = try InputWait.openFIFO(path, interruption, kind: kind)
    {
      fd = fifo
    } else {
      fd = Self.openForReading(path)
    }
    if fd < 0 { throw OpenFailure(message: Self.openFailureMessage(path)) }
    var info = stat()
    if fstat(fd, &info) == 0 && (info.st_mode & S_IFMT) == S_IFDIR {
      close(fd)
      throw OpenFailure(message: "cannot open: Is a directory")
    }
    if (info.st_mode & S_IFMT) == S_IFREG {
      // What is left to read: standard input may start past the file's start.
      let start = max(lseek(fd, 0, SEEK_CUR), 0)
      fileSize = UInt64(max(Int64(info.st_size) - Int64(start), 0))
      writer = Self.lockHolder(device: UInt64(info.st_dev), inode: UInt64(info.st_ino))
    } else {
      fileSize = nil
      writer = nil
    }
    do throws(OpenFailure) {
      prefix = try Self.readPrefix(
        fd, interruption: fileSize == nil ? interruption : nil, kind: kind)
      if let tee, let failure = prefix.withUnsafeBytes({ tee($0) }) {
        throw OpenFailure(message: failure)
      }
    } catch {
      close(fd)
      throw error
    }
    descriptor = fd
  }

  /// The process (other than this one) holding an exclusive `flock` on
  /// the file of `device` and `inode`, as the recorder does while it
  /// writes, from `/proc/locks` (read, so that no lock taken to test can
  /// make a recorder starting now think the file busy); nil when none does
  /// or it cannot be told. A shared lock (`READ`: a reader, a backup tool)
  /// is no writer's.
  static func lockHolder(device: UInt64, inode: UInt64) -> Int32? {
    let fd = open("/proc/locks", O_RDONLY | O_CLOEXEC)
    guard fd >= 0 else { return nil }
    defer { close(fd) }
    var bytes: [UInt8] = []
    var chunk = [UInt8](repeating: 0, count: 65536)
    while true {
      let n = chunk.withUnsafeMutableBytes { read(fd, $0.baseAddress!, $0.count) }
      if n < 0 && errno == EINTR { continue }
      if n <= 0 { break }
      bytes += chunk[..<n]
    }
    let text = String(decoding: bytes, as: UTF8.self)
    // Linux's encoding of a device number: 12 bits of major, 20 of minor.
    let major = (device >> 8) & 0xFFF | (device >> 32) & ~0xFFF
    let minor = device & 0xFF | (device >> 12) & ~0xFF
    // As the kernel prints it: `%02x:%02x:%lu`.
    func hex2(_ v: UInt64) -> String {
      let digits = String(v, radix: 16)
      return digits.count < 2 ? "0" + digits : digits
    }
    let file = hex2(major) + ":" + hex2(minor) + ":" + String(inode)
    let me = getpid()
    // `1: FLOCK  ADVISORY  WRITE 27908 fe:00:1016875 0 EOF`
    for line in text.split(separator: "\n") {
      let fields = line.split(separator: " ", omittingEmptySubsequences: true)
      guard fields.count >= 6, fields[1] == "FLOCK", fields[3] == "WRITE", fields[5] == file,
        let pid = Int32(fields[4]), pid != me
      else { continue }
      return pid
    }
    return nil
  }

  /// Up to the first 4 bytes of `fd` (fewer at its end); `interruption`
  /// is asked while they are waited for (`InputWait`).
  static func readPrefix(
    _ fd: Int32, interruption: TraceInterruption? = nil, kind: String = "trace"
  ) throws(OpenFailure) -> [UInt8] {
    var bytes = [UInt8](repeating: 0, count: 4)
    var count = 0
    while count < bytes.count {
      if let reason = InputWait.interruptedBeforeInput(on: fd, interruption) {
        throw OpenFailure(message: InputWait.beforeHeader(reason, of: kind))
      }
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

  /// The stream mapped (`MappedTraceFile`), from its first byte (the
  /// prefix's) through `size` bytes, the descriptor then closed; or nil,
  /// the descriptor left to `take(intoBufferOf:)`.
  func map(size: UInt64, name: String) -> MappedTraceFile? {
    precondition(descriptor >= 0, "an opened trace is read once")
    let position = lseek(descriptor, 0, SEEK_CUR)
    guard position >= Int64(prefix.count),
      let file = MappedTraceFile(
        fd: descriptor, start: UInt64(position) - UInt64(prefix.count), size: size, name: name)
    else { return nil }
    close(take())
    return file
  }

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
