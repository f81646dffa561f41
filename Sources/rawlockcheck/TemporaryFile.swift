import Basics
import Synchronization

#if canImport(Glibc)
  import Glibc
#endif

/// Makes a new file named `prefix`, six random characters, then `suffix`,
/// open for reading and writing (mode 0600) and closed on exec; it is
/// removed if a signal ends the process before `removeTemporaryFile` or
/// `keepTemporaryFile` (`InterruptCleanup`).
/// - Returns: its descriptor and path, or nil (with `errno` set) when it
///   cannot be made.
func makeTemporaryFile(prefix: String, suffix: String = "") -> (fd: Int32, path: String)? {
  var template = Array("\(prefix)XXXXXX\(suffix)".utf8CString)
  let fd = template.withUnsafeMutableBufferPointer {
    mkstemps($0.baseAddress!, Int32(suffix.utf8.count))
  }
  if fd < 0 { return nil }
  _ = fcntl(fd, F_SETFD, FD_CLOEXEC)
  let path = template.withUnsafeBufferPointer { String(cString: $0.baseAddress!) }
  InterruptCleanup.track(path)
  return (fd, path)
}

/// Removes a file `makeTemporaryFile` made.
func removeTemporaryFile(_ path: String) {
  unlink(path)
  InterruptCleanup.untrack(path)
}

/// A file `makeTemporaryFile` made was renamed into place: it is kept.
func keepTemporaryFile(_ path: String) {
  InterruptCleanup.untrack(path)
}

/// Temporary files the process has made and not yet removed or renamed,
/// removed when SIGINT, SIGTERM or SIGHUP ends it (Ctrl-C during a long
/// `convert` left `.out.rltb.rawlockcheck-XXXXXX` beside the output): the
/// handler unlinks them, then the signal ends the process as it would
/// have. A signal the process ignores (`nohup`) stays ignored.
///
/// Invariant: each slot holds 0 or a `strdup`ed path owned by the slot;
/// only `track` and `untrack` (on the threads that make and remove files)
/// change slots, and the handler only reads them.
enum InterruptCleanup {
  static let capacity = 16

  static let slots = AtomicWords(count: capacity)

  /// Installs the handler where the signal's action is the default one.
  private static let installed: Bool = {
    // SIGPIPE too: a reader of the output that goes away ends the process.
    for number in [SIGINT, SIGTERM, SIGHUP, SIGPIPE] {
      var old = sigaction()
      guard sigaction(number, nil, &old) == 0, old.__sigaction_handler.sa_handler == nil
      else { continue }
      var action = sigaction()
      action.__sigaction_handler.sa_handler = { signo in
        for i in 0..<InterruptCleanup.capacity {
          let raw = InterruptCleanup.slots[i].load(ordering: .acquiring)
          if raw != 0 { unlink(UnsafePointer<CChar>(bitPattern: raw)!) }
        }
        signal(signo, SIG_DFL)
        raise(signo)
      }
      sigemptyset(&action.sa_mask)
      sigaction(number, &action, nil)
    }
    return true
  }()

  /// Removes `path` if a signal ends the process before `untrack(path)`
  /// (beyond `capacity` files at once, it is left).
  static func track(_ path: String) {
    _ = installed
    guard let copy = strdup(path) else { return }
    let raw = UInt(bitPattern: copy)
    for i in 0..<capacity {
      if slots[i].compareExchange(expected: 0, desired: raw, ordering: .acquiringAndReleasing)
        .exchanged
      {
        return
      }
    }
    free(copy)
  }

  /// `path` was removed or renamed: a signal leaves it alone.
  static func untrack(_ path: String) {
    for i in 0..<capacity {
      let raw = slots[i].load(ordering: .acquiring)
      guard raw != 0, String(cString: UnsafePointer<CChar>(bitPattern: raw)!) == path,
        slots[i].compareExchange(expected: raw, desired: 0, ordering: .acquiringAndReleasing)
          .exchanged
      else { continue }
      free(UnsafeMutablePointer<CChar>(bitPattern: raw))
      return
    }
  }
}
