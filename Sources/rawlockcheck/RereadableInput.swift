import Basics
import Trace

#if canImport(Glibc)
  import Glibc
#endif

/// An input opened once that can be read from the start any number of
/// times (`convert` reads its input twice): a regular file through its open
/// descriptor (`/dev/fd/N`); a pipe, a FIFO, a device, or standard input
/// (`-`) left part-read is read once from `firstPath`, which copies (from
/// where it stands) into an unlinked temporary file what it reads
/// (`tee`), and then from the copy: a stream that stops reading as a
/// trace is copied only as far as its reader read (`/dev/zero`, `yes`).
///
/// Invariant: `descriptor` stays open, and `path` opens the same file,
/// until the object goes away; for a stream, `path` holds what the
/// reading of `firstPath` read.
final class RereadableInput {
  /// A path that opens the input afresh, from its first byte, once it
  /// has been read from `firstPath`.
  let path: String
  /// The path to read the input from the first time: `path`, or for a
  /// stream the stream itself, read through `tee`.
  let firstPath: String
  /// For a stream, where its first reading puts what it reads.
  let tee: TraceTee?
  /// The device and inode of the file named on the command line (before any
  /// copy), to tell whether an output is the same file.
  let device: UInt64
  /// See `device`.
  let inode: UInt64
  private let descriptor: Int32
  private let ownsDescriptor: Bool
  /// The input's name on the command line, for messages.
  private let name: String
  /// A regular file's size when opened; nil for a copy.
  private let sizeAtOpen: Int64?

  /// Opens `name` (`-`: standard input).
  /// - Throws: `TraceError` naming `name` when it cannot be opened, read or
  ///   copied.
  init(_ name: String) throws(TraceError) {
    // As messages show it (an empty name is `''`).
    let shown = QuotedText.fileName(name)
    self.name = shown
    var fd: Int32 = 0
    var tee: TraceTee? = nil
    if name != "-" {
      fd = open(name, O_RDONLY | O_CLOEXEC)
      if fd < 0 { throw Self.error(shown, "cannot open", errno) }
      // Not in the place of a closed standard descriptor (`convert t.rlt
      // - >&-`): the output `-` would be the input.
      if fd <= 2 {
        let moved = fcntl(fd, F_DUPFD_CLOEXEC, 3)
        let code = errno
        close(fd)
        if moved < 0 { throw Self.error(shown, "cannot open", code) }
        fd = moved
      }
    }
    var info = stat()
    if fstat(fd, &info) != 0 {
      let code = errno
      if fd != 0 { close(fd) }
      // As every reader of a trace says it (`OpenedTraceInput`).
      if fd == 0 && code == EBADF {
        throw TraceError(file: shown, line: 0, message: "cannot open: standard input is closed")
      }
      throw Self.error(shown, "cannot open", code)
    }
    device = UInt64(info.st_dev)
    inode = UInt64(info.st_ino)
    // Standard input left part-read (`{ read -r first; rawlockcheck
    // convert - out; } < file`) starts where its offset stands, as every
    // other command reads it: `/dev/fd/0` would reopen the file from its
    // first byte. It is copied from there.
    let partRead = fd == 0 && lseek(0, 0, SEEK_CUR) > 0
    switch info.st_mode & S_IFMT {
    case S_IFREG where !partRead:
      descriptor = fd
      ownsDescriptor = fd != 0
      sizeAtOpen = Int64(info.st_size)
    case S_IFDIR:
      if fd != 0 { close(fd) }
      throw TraceError(file: shown, line: 0, message: "cannot open: Is a directory")
    default:
      let copy: StreamCopy
      do throws(TraceError) {
        copy = try StreamCopy(name: shown)
      } catch {
        if fd != 0 { close(fd) }
        throw error
      }
      descriptor = copy.descriptor
      ownsDescriptor = true
      sizeAtOpen = nil
      // The stream stays open (the first reading opens it through its
      // descriptor, from where it stands) as long as the copy.
      if fd != 0 { stream = fd }
      tee = { copy.take($0) }
    }
    path = "/dev/fd/\(descriptor)"
    // Standard input as every reader opens it (`OpenedTraceInput`).
    firstPath = tee == nil ? path : fd == 0 ? "/dev/stdin" : "/dev/fd/\(fd)"
    self.tee = tee
  }

  /// A stream's own descriptor (not standard input's), closed with this.
  private var stream: Int32? = nil

  /// Throws when a regular file's size is no longer what it was when
  /// opened: each reading may have seen other bytes (a trace cut, or
  /// still being written, meanwhile).
  func checkUnchanged() throws(TraceError) {
    guard let sizeAtOpen else { return }
    var info = stat()
    guard fstat(descriptor, &info) == 0, Int64(info.st_size) != sizeAtOpen else { return }
    throw TraceError(
      file: name, line: 0,
      message:
        "the file changed while it was read: \(sizeAtOpen) bytes when opened, \(info.st_size) now")
  }

  deinit {
    if ownsDescriptor { close(descriptor) }
    if let stream { close(stream) }
  }

  /// A new unlinked file in `$TMPDIR` (or `/tmp`) that a stream's first
  /// reading writes what it reads to (`take`), as long as the file's disk
  /// keeps the room it leaves free.
  final class StreamCopy {
    /// The copy's descriptor (the `RereadableInput` closes it).
    let descriptor: Int32
    private let directory: String
    private var copied = 0
    private var nextRoomCheck = 0

    /// Makes the file; `name` is the input's, for messages.
    init(name: String) throws(TraceError) {
      directory = temporaryDirectory()
      guard let (fd, path) = makeTemporaryFile(prefix: "\(directory)/rawlockcheck-input-") else {
        throw RereadableInput.error(
          name, "cannot make a temporary copy in \(QuotedText.printable(directory))", errno)
      }
      removeTemporaryFile(path)
      descriptor = fd
    }

    /// Appends `bytes`; nil, or why the copy cannot go on.
    func take(_ bytes: UnsafeRawBufferPointer) -> String? {
      if copied >= nextRoomCheck, let room = RereadableInput.roomLeft(descriptor) {
        // Looked at again after half the room above the reserve at most
        // (and 64 MiB), so that the copy stops before it eats into it.
        let spare = room.available - room.reserve
        nextRoomCheck = copied + min(RereadableInput.roomCheckBytes, max(spare / 2, 0))
        if spare < max(bytes.count, 1 << 16) {
          return
            "cannot make a temporary copy: after \(RereadableInput.size(copied)), \(QuotedText.printable(directory)) is down to the \(RereadableInput.size(room.reserve)) the copy leaves free (5 % of its disk, at most 1 GiB; an endless stream would fill the disk): convert a file, or set TMPDIR to a larger disk"
        }
      }
      let failure = writeAll(Array(bytes), to: descriptor)
      if failure != 0 {
        return "cannot make a temporary copy: \(String(cString: strerror(failure)))"
      }
      copied += bytes.count
      return nil
    }
  }

  /// How often the copy looks at the room left on its disk: every 64 MiB
  /// at most (sooner as the room above the reserve shrinks).
  static let roomCheckBytes = 1 << 26

  /// `bytes` for a message: in MiB, or in KiB below one.
  static func size(_ bytes: Int) -> String {
    bytes >= 1 << 20 ? "\(bytes >> 20) MiB" : "\(bytes >> 10) KiB"
  }

  /// The bytes free for the copy on the disk of `fd`, and what it leaves
  /// free there: 5 % of the disk, at most 1 GiB. Nil when it cannot tell.
  static func roomLeft(_ fd: Int32) -> (available: Int, reserve: Int)? {
    var info = statvfs()
    guard fstatvfs(fd, &info) == 0 else { return nil }
    let block = Int(info.f_frsize)
    let total = Int(info.f_blocks) * block
    return (Int(info.f_bavail) * block, min(1 << 30, total / 20))
  }

  fileprivate static func error(_ name: String, _ what: String, _ code: Int32) -> TraceError {
    TraceError(file: name, line: 0, message: "\(what): \(String(cString: strerror(code)))")
  }
}
