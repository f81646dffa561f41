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
/// process appends to would leave neither trace readable. Anything else (a
/// FIFO, `/dev/stdout`, `/dev/null`) is written as it is, unlocked: it
/// cannot be truncated, and a name beside a device is no file to read. A
/// child made by `fork()` without `exec` shares its parent's file and lock:
/// it does not record (`TraceRecorder`).
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

  /// An open, locked and emptied trace file, and its path.
  struct Opened {
    var descriptor: Int32
    var path: String
  }

  /// Opens the trace file `template` names for this process: locked for
  /// it, truncated; the per-process file beside it when another process
  /// holds it. Nil, with the reason, when neither can be opened.
  static func open(_ template: String, pid: Int32 = getpid()) -> Result<Opened, OpenError> {
    let path = expand(template, pid: pid)
    switch openLocked(path) {
    case .success(let fd): return .success(Opened(descriptor: fd, path: path))
    case .failure(.busy):
      let own = perProcess(path, pid: pid)
      switch openLocked(own) {
      case .success(let fd):
        return .success(Opened(descriptor: fd, path: own))
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
    /// `open` or `ftruncate` failed with this errno.
    case system(path: String, errno: Int32)
  }

  /// `path` opened for writing; a regular file locked and truncated.
  private static func openLocked(_ path: String) -> Result<Int32, OpenError> {
    let fd = Glibc.open(path, O_WRONLY | O_CREAT | O_CLOEXEC, 0o644)
    guard fd >= 0 else { return .failure(.system(path: path, errno: errno)) }
    var info = stat()
    if fstat(fd, &info) == 0 && (info.st_mode & S_IFMT) != S_IFREG { return .success(fd) }
    // A file system without locks (ENOLCK) is written unlocked.
    if flock(fd, LOCK_EX | LOCK_NB) != 0 && errno == EWOULDBLOCK {
      close(fd)
      return .failure(.busy)
    }
    guard ftruncate(fd, 0) == 0 else {
      let code = errno
      close(fd)
      return .failure(.system(path: path, errno: code))
    }
    return .success(fd)
  }
}
