import Basics

#if canImport(Glibc)
  import Glibc
#endif

/// Where a process writes its trace, from `RAWLOCKCHECK_TRACE`, and the
/// file opened there for this process alone.
///
/// The value is a path in which `%p` is the process id and `%%` a `%`
/// (as `LLVM_PROFILE_FILE` and Valgrind's `--log-file` spell it):
/// `RAWLOCKCHECK_TRACE=trace-%p.rltb swift test` keeps the trace of each
/// process `swift test` runs (XCTest's, then Swift Testing's), which one
/// name would let the second overwrite.
///
/// Invariant: a regular trace file is written by one process. The file is
/// locked (`flock`, released when the process ends) before it is
/// truncated, and a process that finds it locked, because a process it was
/// started by or alongside is writing it, writes `name.<pid>.ext` beside it
/// instead, and says so on standard error: truncating a file another
/// process appends to would leave neither trace readable. A FIFO is locked
/// (a second writer records nothing) but not truncated; this process's own
/// descriptors (`/dev/stdout`, `/dev/fd/N`) are duplicated, written at
/// their offset; a device is written as it is, unlocked. A
/// child made by `fork()` without `exec` shares its parent's file and lock:
/// it does not record (`Live.forkedChild`). One made before the validator
/// existed has no recorder of its parent's: it makes its own, and writes
/// `name.<pid>.ext`, leaving the name to its parent.
struct TracePath {
  /// The path `RAWLOCKCHECK_TRACE` names, `%p` and `%%` expanded for `pid`.
  static func expand(_ template: String, pid: Int32) -> String {
    guard template.contains("%") else { return template }
    var out = ""
    var percent = false
    for c in template {
      if percent {
        switch c {
        case "p": out += String(pid)
        case "%": out.append("%")
        default: out += "%" + String(c)
        }
        percent = false
      } else if c == "%" {
        percent = true
      } else {
        out.append(c)
      }
    }
    if percent { out.append("%") }
    return out
  }

  /// `path` with `.<pid>` before its file name's extension (`t.rltb` is
  /// `t.4242.rltb`, `trace` is `trace.4242`).
  static func perProcess(_ path: String, pid: Int32) -> String {
    let name = path.lastIndex(of: "/").map { path.index(after: $0) } ?? path.startIndex
    if let dot = path[name...].lastIndex(of: "."), dot > name {
      return String(path[..<dot]) + ".\(pid)" + String(path[dot...])
    }
    return path + ".\(pid)"
  }

  /// An open, locked and emptied trace file, its path, and the path asked
  /// for (another when that one was busy).
  struct Opened {
    var descriptor: Int32
    var path: String
    var requested: String
  }

  /// Opens the trace file `template` names for this process: locked for
  /// it, truncated; the per-process file beside it when another process
  /// holds it, or at once when `forked` (a child of `fork()` without
  /// `exec` made before the validator existed: the name is its parent's,
  /// which may open it later, or may have written it already). Nil, with
  /// the reason, when neither can be opened.
  static func open(
    _ template: String, pid: Int32 = getpid(), forked: Bool = false
  ) -> Result<Opened, OpenError> {
    let path = expand(template, pid: pid)
    // A name that holds the pid (`%p`) is this process's already.
    if forked && ownDescriptor(named: path) == nil && path == expand(template, pid: pid &+ 1) {
      let own = perProcess(path, pid: pid)
      return openLocked(own).map { Opened(descriptor: $0, path: own, requested: path) }
    }
    // One of this process's own descriptors (`/dev/stdout` with standard
    // output redirected `>> log`): written where it is, at its offset,
    // never reopened (at offset 0), truncated or locked.
    if let own = ownDescriptor(named: path) {
      let fd = fcntl(own, F_DUPFD_CLOEXEC, 3)
      guard fd >= 0 else { return .failure(.system(path: path, errno: errno)) }
      return .success(Opened(descriptor: fd, path: path, requested: path))
    }
    switch openLocked(path) {
    case .success(let fd): return .success(Opened(descriptor: fd, path: path, requested: path))
    case .failure(.busy):
      let own = perProcess(path, pid: pid)
      switch openLocked(own) {
      case .success(let fd):
        return .success(Opened(descriptor: fd, path: own, requested: path))
      case .failure(let error):
        return .failure(error)
      }
    case .failure(let error): return .failure(error)
    }
  }

  /// Why a trace file could not be opened.
  enum OpenError: Error, Equatable {
    /// Another process holds its lock.
    case busy
    /// Another process holds the lock of the FIFO it is.
    case busyStream(path: String)
    /// `open` or `ftruncate` failed with this errno.
    case system(path: String, errno: Int32)
  }

  /// `path` opened for writing; a regular file locked and truncated.
  private static func openLocked(_ path: String) -> Result<Int32, OpenError> {
    let fd = Glibc.open(path, O_WRONLY | O_CREAT | O_CLOEXEC, 0o644)
    guard fd >= 0 else { return .failure(.system(path: path, errno: errno)) }
    var info = stat()
    let type = fstat(fd, &info) == 0 ? info.st_mode & S_IFMT : 0
    // A device (`/dev/null`) is written as it is.
    if type != S_IFREG && type != S_IFIFO { return .success(fd) }
    // A file system without locks (ENOLCK) is written unlocked.
    if flock(fd, LOCK_EX | LOCK_NB) != 0 && errno == EWOULDBLOCK {
      close(fd)
      // Two processes in one FIFO would interleave their records: the
      // second records nothing (a name beside it would be read by no one).
      return .failure(type == S_IFIFO ? .busyStream(path: path) : .busy)
    }
    // A FIFO cannot be truncated (and needs not be).
    if type == S_IFIFO { return .success(fd) }
    guard ftruncate(fd, 0) == 0 else {
      let code = errno
      close(fd)
      return .failure(.system(path: path, errno: code))
    }
    return .success(fd)
  }
}
