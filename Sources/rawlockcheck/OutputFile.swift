import Basics

#if canImport(Glibc)
  import Glibc
#endif

/// An output of a command: standard output (`-`), one of the process's
/// descriptors by name (`/dev/stdout`, `/dev/fd/N`) or a device or FIFO,
/// written directly, or a regular file replaced whole when the output is
/// committed.
///
/// A regular file is written to a temporary file beside it (in the
/// directory of the file a symbolic link names, so the link is kept and
/// its target replaced) and renamed over it by `commit()`: an output that
/// fails half-way leaves the old file as it was. The temporary file has no
/// name until `commit()` gives it one (`O_TMPFILE`, then `linkat` through
/// `/proc/self/fd`), so that a process killed while it writes (SIGKILL,
/// which no handler sees) leaves nothing behind; where the file system
/// or `/proc` cannot do that, it is a named one (`makeTemporaryFile`). A
/// device or FIFO (an existing file that is not regular) is opened and
/// written in place.
///
/// Invariant: `temporary`, when set, exists until `commit()` renames it or
/// the object goes away (which removes it); `unnamedPrefix`, when set, is
/// where `descriptor`, a file without a name, gets one at `commit()`.
final class OutputFile {
  /// The output as named in messages: its path, or `standard output`.
  let name: String
  /// Where the bytes go (-1 once closed).
  private(set) var descriptor: Int32
  /// The temporary file renamed onto `target` by `commit()`.
  private var temporary: String?
  /// The start of the name (`DIR/.NAME.rawlockcheck-`) that the unnamed
  /// file `descriptor` is given at `commit()`, before it is renamed onto
  /// `target`.
  private var unnamedPrefix: String?
  /// The owner (when it is to change) and mode the output is given: at
  /// once for a named temporary file, and once it is named for an unnamed
  /// one (owned by another user before it has a name, it could not be
  /// linked where `fs.protected_hardlinks` forbids linking a file one
  /// neither owns nor can read).
  private var attributes: (owner: (uid: uid_t, gid: gid_t)?, mode: mode_t) = (nil, 0o600)
  /// The file a regular output replaces (symbolic links resolved).
  private let target: String

  /// Throws when `output` is the file `input` names (by another path or a
  /// hard link too: the same device and inode, given for an input already
  /// open): writing it would destroy what is read.
  /// `-` is standard output: refused when it is a regular file that is
  /// the input (`convert t.rlt - >> t.rlt`, `report t.rlt >> t.rlt`),
  /// where what is written lands on what is read, as `cat` refuses it.
  static func refuse(
    _ output: String?, being input: String, device: UInt64, inode: UInt64
  ) throws(OutputError) {
    guard let output else { return }
    if output == "-" {
      var out = stat()
      guard fstat(1, &out) == 0, out.st_mode & S_IFMT == S_IFREG,
        UInt64(out.st_dev) == device, UInt64(out.st_ino) == inode
      else { return }
      throw OutputError(
        name: OutputError.standardOutput,
        message: "is the input file (\(QuotedText.fileName(input))); write to another file")
    }
    var info = stat()
    guard stat(output, &info) == 0, UInt64(info.st_dev) == device, UInt64(info.st_ino) == inode
    else { return }
    throw OutputError(
      name: output,
      message: "is the input file (\(QuotedText.fileName(input))); write to another file")
  }

  /// `refuse(_:being:device:inode:)` against each input path that exists,
  /// and against the file standard input is, for `-`, when it is a regular
  /// file (`graph -o t.rlt - < t.rlt`; a terminal or `/dev/null` on both
  /// sides loses nothing).
  static func refuse(_ output: String?, beingAnyOf inputs: [String]) throws(OutputError) {
    for input in inputs {
      var info = stat()
      guard (input == "-" ? fstat(0, &info) : stat(input, &info)) == 0 else { continue }
      if input == "-" && info.st_mode & S_IFMT != S_IFREG { continue }
      try refuse(output, being: input, device: UInt64(info.st_dev), inode: UInt64(info.st_ino))
    }
  }

  /// Whether `path` names the file, pipe or FIFO standard output writes to
  /// (`/dev/stdout`, `/dev/fd/1`, or the file it was redirected to), where
  /// what is written would mix with the command's own output. A terminal or
  /// other device (`/dev/null`) is not: both going there mixes nothing that
  /// is kept.
  static func isStandardOutput(_ path: String) -> Bool {
    var out = stat()
    var named = stat()
    guard fstat(1, &out) == 0, stat(path, &named) == 0 else { return false }
    return out.st_dev == named.st_dev && out.st_ino == named.st_ino
      && out.st_mode & S_IFMT != S_IFCHR
  }

  /// Refuses an `output` that is a regular file already holding something
  /// whose first line with a token (blank and `#` comment lines before it
  /// are skipped, as the graph file reader skips them) is not `header`:
  /// `--graph-out` written before its value (`report --graph-out t1.rlt
  /// t2.rlt`) took a trace for its file and wrote over it. Nor a file of
  /// `header` whose version is not `version` (a later rawlockcheck's,
  /// which this one would write over with less).
  static func refuseOverwriting(
    _ output: String?, unlessStartingWith header: String, version: String
  ) throws(OutputError) {
    guard let output, output != "-" else { return }
    var info = stat()
    guard stat(output, &info) == 0, info.st_mode & S_IFMT == S_IFREG, info.st_size > 0 else {
      return
    }
    let fd = open(output, O_RDONLY | O_CLOEXEC)
    guard fd >= 0 else { return }
    defer { close(fd) }
    var start = [UInt8](repeating: 0, count: 65536)
    let n = start.withUnsafeMutableBytes { read(fd, $0.baseAddress!, $0.count) }
    guard n > 0 else { return }
    // Lines as the graph file reader takes them: a UTF-8 byte order mark
    // at the start skipped, and split as bytes (Swift takes `\r\n` for one
    // character, which a split at `\n` never finds: a file with CRLF line
    // ends, which the reader reads, was refused).
    var bytes = start[..<n]
    if bytes.starts(with: [0xEF, 0xBB, 0xBF]) { bytes = bytes.dropFirst(3) }
    for lineBytes in bytes.split(separator: UInt8(ascii: "\n")) {
      let line = String(decoding: lineBytes, as: UTF8.self)
      let words = line.split(whereSeparator: { $0 == " " || $0 == "\t" || $0 == "\r" })
      guard let first = words.first, !first.hasPrefix("#") else { continue }
      guard first == header else { break }
      if words.count < 2 || words[1] == version { return }
      throw OutputError(
        name: output,
        message:
          "is a graph file of version \(QuotedText.printable(String(words[1].prefix(20)))), which "
          + "this rawlockcheck cannot read (it writes version \(version)); not written over")
    }
    throw OutputError(
      name: output,
      message:
        "exists and is not a graph file (it does not start with \"\(header)\"); not written over")
  }

  /// Whether `path` names a regular file (or nothing yet), which is
  /// written to a temporary file beside it and can be opened before the
  /// input is read, without waiting: a FIFO or device is opened where it
  /// is, which waits for a FIFO's reader (who may first write the input),
  /// so it is opened only once there is something to write.
  static func isReplacedWhole(_ path: String?) -> Bool {
    guard let path, path != "-" else { return false }
    var info = stat()
    return stat(path, &info) != 0 || info.st_mode & S_IFMT == S_IFREG
  }

  /// Opens `path` for writing (`-` or nil: standard output). With
  /// `followingStandardOutput`, a path of the file standard output was
  /// redirected to is written through standard output, after what the
  /// command printed there (`report --graph-out g > g`: the graph after
  /// the report, which a file renamed over it lost); else that file is
  /// replaced, as any (`convert t.rlt out >> out` replaces `out`).
  /// - Throws: `OutputError` when it cannot be written.
  init(path: String?, followingStandardOutput: Bool = false) throws(OutputError) {
    guard let path, path != "-" else {
      name = OutputError.standardOutput
      descriptor = 1
      target = ""
      return
    }
    name = path
    // One of this process's descriptors (`/dev/stdout` on a pipe, or
    // redirected `>> log`), or, following standard output, the file it
    // was redirected to, by its path: written where it is, after what was
    // written there, never reopened.
    let followed = followingStandardOutput && Self.isStandardOutput(path)
    if let own = ownDescriptor(named: path) ?? (followed ? 1 : nil) {
      let fd = fcntl(own, F_DUPFD_CLOEXEC, 3)
      if fd < 0 { throw Self.cannotWrite(path, errno) }
      descriptor = fd
      target = ""
      return
    }
    guard let target = Self.resolvingLinks(path) else { throw Self.cannotWrite(path, ELOOP) }
    self.target = target
    var info = stat()
    // The path as given: a link into `/proc` names a pipe or a socket that
    // no resolved path reaches.
    if stat(path, &info) == 0, info.st_mode & S_IFMT != S_IFREG {
      let fd = open(path, O_WRONLY | O_CLOEXEC)
      if fd < 0 { throw Self.cannotWrite(path, errno) }
      descriptor = fd
      return
    }
    let exists = stat(target, &info) == 0
    // Replaced only where it could be written in place: a read-only file
    // is refused, as `>` refuses it (root may write it, as there).
    if exists && access(target, W_OK) != 0 { throw Self.cannotWrite(path, errno) }
    let slash = target.lastIndex(of: "/")
    let directory = slash.map { String(target[...$0]) } ?? ""
    var base = slash.map { String(target[target.index(after: $0)...]) } ?? target
    // `.NAME.rawlockcheck-XXXXXX`: a name that is legal (up to NAME_MAX,
    // 255 bytes) keeps its temporary legal too.
    let added = ".".utf8.count + ".rawlockcheck-XXXXXX".utf8.count
    while base.utf8.count > Int(NAME_MAX) - added { base.removeLast() }
    let prefix = "\(directory).\(base).rawlockcheck-"
    if let fd = Self.unnamedFile(in: directory.isEmpty ? "." : directory) {
      unnamedPrefix = prefix
      descriptor = fd
    } else if let (fd, made) = makeTemporaryFile(prefix: prefix) {
      temporary = made
      descriptor = fd
    } else {
      // The file is written beside itself first, then renamed: where no
      // file can be made beside it (`/proc`, a read-only directory over a
      // writable file), the reason is about that file, not this one.
      let code = errno
      guard exists else { throw Self.cannotWrite(path, code) }
      throw OutputError(
        name: path,
        message:
          "cannot write: cannot create a temporary file beside it to replace it with: "
          + String(cString: strerror(code)))
    }
    // A temporary file is 0600: keep the replaced file's mode, else the
    // umask's, and its owner and group where this process may give them
    // (root replacing another user's file); the owner first, since a
    // change of owner clears the set-id bits.
    if exists && (info.st_uid != geteuid() || info.st_gid != getegid()) {
      attributes.owner = (info.st_uid, info.st_gid)
    }
    let mask = umask(0)
    umask(mask)
    attributes.mode = exists ? info.st_mode & 0o7777 : 0o666 & ~mask
    if unnamedPrefix == nil { applyAttributes() }
  }

  /// Gives the file being written its owner, then its mode (a change of
  /// owner clears the set-id bits).
  private func applyAttributes() {
    if let owner = attributes.owner { _ = fchown(descriptor, owner.uid, owner.gid) }
    fchmod(descriptor, attributes.mode)
  }

  /// `O_TMPFILE`, which Glibc's module does not export (`__O_TMPFILE |
  /// O_DIRECTORY`; `__O_TMPFILE` is the same on these architectures).
  private static var openTemporary: Int32? {
    #if os(Linux) && (arch(x86_64) || arch(arm64))
      return 0o2000_0000 | O_DIRECTORY
    #else
      return nil
    #endif
  }

  /// A new file without a name in `directory`, open for writing (mode
  /// 0600), closed on exec and above descriptor 2, that `/proc/self/fd`
  /// can name for `linkat`; nil where the file system, the kernel or
  /// `/proc` cannot.
  private static func unnamedFile(in directory: String) -> Int32? {
    guard let flag = openTemporary else { return nil }
    let opened = open(directory, flag | O_WRONLY | O_CLOEXEC, 0o600)
    guard opened >= 0, let fd = aboveStandardDescriptors(opened) else { return nil }
    guard access("/proc/self/fd/\(fd)", F_OK) == 0 else {
      close(fd)
      return nil
    }
    return fd
  }

  /// Gives the unnamed file `descriptor` a new name that starts with
  /// `prefix` (six random characters after it, as `mkstemp`'s), tracked
  /// for removal by a signal as `makeTemporaryFile`'s files are.
  /// - Returns: the name, or nil with `errno` set.
  private func link(withPrefix prefix: String) -> String? {
    let letters = Array("abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789".utf8)
    var random = SystemRandomNumberGenerator()
    for _ in 0..<100 {
      let suffix = (0..<6).map { _ in letters[Int(random.next() % UInt64(letters.count))] }
      let path = prefix + String(decoding: suffix, as: UTF8.self)
      InterruptCleanup.track(path)
      if linkat(AT_FDCWD, "/proc/self/fd/\(descriptor)", AT_FDCWD, path, AT_SYMLINK_FOLLOW) == 0 {
        return path
      }
      let code = errno
      InterruptCleanup.untrack(path)
      errno = code
      if code != EEXIST { return nil }
    }
    return nil
  }

  deinit {
    guard descriptor != 1 else { return }
    if descriptor >= 0 { close(descriptor) }
    if let temporary { removeTemporaryFile(temporary) }
  }

  /// Writes all of `bytes`.
  /// - Throws: `OutputError` (`write failed: ...`) when a write fails.
  func write(_ bytes: [UInt8]) throws(OutputError) {
    let failure = writeAll(bytes, to: descriptor)
    if failure != 0 { throw OutputError.writeFailed(name, failure) }
  }

  /// Writes all of `text`.
  func write(_ text: String) throws(OutputError) { try write(Array(text.utf8)) }

  /// Makes what was written durable (`fsync`), where it can be, before
  /// `commit()`: a write the file system only refuses then (a full disk
  /// on some) is known before the caller says the run went well.
  /// - Throws: `OutputError` (`write failed: ...`) when it fails.
  func sync() throws(OutputError) {
    guard temporary != nil || unnamedPrefix != nil else { return }
    if fsync(descriptor) != 0 && errno != EINVAL { throw OutputError.writeFailed(name, errno) }
  }

  /// Finishes the output: a regular file takes the place of the old one.
  /// - Throws: `OutputError` when closing or renaming fails (the old file
  ///   is then left as it was).
  func commit() throws(OutputError) {
    guard temporary != nil || unnamedPrefix != nil else { return }
    try sync()
    if let prefix = unnamedPrefix {
      guard let named = link(withPrefix: prefix) else { throw Self.cannotWrite(name, errno) }
      unnamedPrefix = nil
      temporary = named
      applyAttributes()
    }
    guard let temporary else { return }
    let closed = close(descriptor)
    descriptor = -1
    if closed != 0 { throw OutputError.writeFailed(name, errno) }
    if rename(temporary, target) != 0 { throw Self.cannotWrite(name, errno) }
    keepTemporaryFile(temporary)
    self.temporary = nil
  }

  /// `path` with symbolic links in its last component followed (at most 40,
  /// as the kernel does); a dangling link gives the file it names; nil for
  /// a loop (more than 40), which `>` refuses too (`ELOOP`), rather than
  /// the link replaced.
  static func resolvingLinks(_ path: String) -> String? {
    var path = path
    for _ in 0..<40 {
      var info = stat()
      guard lstat(path, &info) == 0, info.st_mode & S_IFMT == S_IFLNK else { return path }
      var buffer = [CChar](repeating: 0, count: Int(PATH_MAX) + 1)
      let count = readlink(path, &buffer, buffer.count - 1)
      guard count > 0 else { return path }
      let link = String(decoding: buffer[..<count].map { UInt8(bitPattern: $0) }, as: UTF8.self)
      if link.hasPrefix("/") {
        path = link
      } else if let slash = path.lastIndex(of: "/") {
        path = String(path[...slash]) + link
      } else {
        path = link
      }
    }
    var info = stat()
    guard lstat(path, &info) == 0, info.st_mode & S_IFMT == S_IFLNK else { return path }
    return nil
  }

  private static func cannotWrite(_ name: String, _ code: Int32) -> OutputError {
    OutputError(name: name, message: "cannot write: \(String(cString: strerror(code)))")
  }
}
