import Basics
import Synchronization

#if canImport(Glibc)
  import Glibc
#endif

/// Where temporary files go: `$TMPDIR` when set (and not empty), else
/// `/tmp`.
func temporaryDirectory() -> String {
  guard let value = getenv("TMPDIR"), value.pointee != 0 else { return "/tmp" }
  return String(cString: value)
}

/// Makes a new file named `prefix`, six random characters, then `suffix`,
/// open for reading and writing (mode 0600) and closed on exec; it is
/// removed if a signal ends the process before `removeTemporaryFile` or
/// `keepTemporaryFile` (`InterruptCleanup`). Its descriptor is above 2:
/// never in the place of a closed standard one (`convert t.rlt - >&-`
/// wrote its output into its own temporary copy, which took descriptor 1).
/// - Returns: its descriptor and path, or nil (with `errno` set) when it
///   cannot be made.
func makeTemporaryFile(prefix: String, suffix: String = "") -> (fd: Int32, path: String)? {
  var template = Array("\(prefix)XXXXXX\(suffix)".utf8CString)
  let made = template.withUnsafeMutableBufferPointer {
    mkstemps($0.baseAddress!, Int32(suffix.utf8.count))
  }
  if made < 0 { return nil }
  guard let fd = aboveStandardDescriptors(made) else {
    let code = errno
    template.withUnsafeBufferPointer { _ = unlink($0.baseAddress!) }
    errno = code
    return nil
  }
  _ = fcntl(fd, F_SETFD, FD_CLOEXEC)
  let path = template.withUnsafeBufferPointer { String(cString: $0.baseAddress!) }
  InterruptCleanup.track(path)
  return (fd, path)
}

/// `fd`, or, when it is 0, 1 or 2 (a standard descriptor the process had
/// closed), a copy of it above 2, closed on exec, with `fd` closed: a file
/// of the process's own must not take the place of standard output
/// (`convert t.rlt - >&-`). Nil, with `errno` set and `fd` closed, when no
/// copy can be made.
func aboveStandardDescriptors(_ fd: Int32) -> Int32? {
  guard fd <= 2 else { return fd }
  let moved = fcntl(fd, F_DUPFD_CLOEXEC, 3)
  let code = errno
  close(fd)
  errno = code
  return moved < 0 ? nil : moved
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
/// handler passes the signal on to the child process it waits for
/// (`graph --format svg`'s `dot`, left running at full speed for minutes
/// when only this process was signalled) and waits for it to end (a
/// second at most, then it is killed), unlinks them, then the signal ends
/// the process as it would have. A signal the process ignores (`nohup`)
/// stays ignored. While `report` reads traces, the first SIGINT, SIGTERM
/// or SIGHUP only ends the reading (`ReadingInterruption`), and the same
/// signal within `repeatWindow` of it is that one delivered twice.
///
/// Invariant: each slot holds 0 or a `strdup`ed path owned by the slot;
/// only `track` and `untrack` (on the threads that make and remove files)
/// change slots, and the handler only reads them. `child` is 0 or the
/// process `trackChild` was given.
enum InterruptCleanup {
  static let capacity = 16

  static let slots = AtomicWords(count: capacity)

  /// The child process being waited for, or 0.
  static let child = AtomicWords(count: 1)

  /// A progress bar is on the terminal: 0 none, 1 cleared with `ESC[K`,
  /// 2 (a dumb terminal) ended with a newline.
  static let bar = AtomicWords(count: 1)

  /// Nonzero while `report` reads traces (`ReadingInterruption.begin()`
  /// to `end()`): the first SIGINT, SIGTERM or SIGHUP then only sets
  /// `interrupted`; the next one ends the process as usual, unless it is
  /// the same signal within `repeatWindow` of the first.
  static let deferring = AtomicWords(count: 1)

  /// The signal that interrupted the reading, or 0.
  static let interrupted = AtomicWords(count: 1)

  /// When the interrupting signal came (`MonotonicClock.nanoseconds()`).
  static let interruptedAt = AtomicWords(count: 1)

  /// Nanoseconds within which the interrupting signal, come again, is the
  /// same interrupt delivered twice, not a second one: GNU `timeout` sends
  /// its signal to the process and then to its process group (the
  /// process again), and a CI job's time limit is often `timeout`; on a
  /// loaded machine the two may come hundreds of milliseconds apart. A
  /// person's second Ctrl-C that comes sooner is taken for the first (as
  /// is every repeat within this time of the first): the reading is
  /// ending anyway, and one after it ends the process.
  static let repeatWindow: UInt = 1_000_000_000

  /// A progress bar was drawn: a signal that ends the process clears it.
  static func barDrawn(dumb: Bool) {
    _ = installed
    bar[0].store(dumb ? 2 : 1, ordering: .releasing)
  }

  /// The progress bar was cleared.
  static func barCleared() { bar[0].store(0, ordering: .releasing) }

  /// Installs the handler where the signal's action is the default one.
  private static let installed: Bool = {
    // What the handler reads is made first: a lazy global made in the
    // handler would allocate there.
    _ = (slots, child, bar, deferring, interrupted, interruptedAt, repeatWindow, capacity)
    // SIGPIPE too: a reader of the output that goes away ends the process.
    for number in handled {
      var old = sigaction()
      guard sigaction(number, nil, &old) == 0, old.__sigaction_handler.sa_handler == nil
      else { continue }
      var action = sigaction()
      action.__sigaction_handler.sa_handler = { signo in
        if signo != SIGPIPE {
          let now = MonotonicClock.nanoseconds()
          let number = UInt(truncatingIfNeeded: Int(signo))
          // The first interrupt of a reading `report` ends the reading
          // only. Its time is set before it is: a repeat seeing it sees
          // the time.
          if InterruptCleanup.deferring[0].load(ordering: .acquiring) != 0,
            InterruptCleanup.interrupted[0].load(ordering: .acquiring) == 0
          {
            InterruptCleanup.interruptedAt[0].store(now, ordering: .releasing)
            if InterruptCleanup.interrupted[0].compareExchange(
              expected: 0, desired: number, ordering: .acquiringAndReleasing
            ).exchanged {
              return
            }
          }
          // The same interrupt delivered again (`timeout`), even once
          // the reading is over: ignored. (Its clock may have been read
          // before the first one's, on another thread: `now <= first`.)
          let first = InterruptCleanup.interruptedAt[0].load(ordering: .acquiring)
          if InterruptCleanup.interrupted[0].load(ordering: .acquiring) == number,
            now <= first || now - first < InterruptCleanup.repeatWindow
          {
            return
          }
        }
        // Bytes on the stack: nothing here may allocate (not even a
        // tuple's type metadata, which a debug build makes at its first
        // use): \r ESC [ K, in memory order.
        var clear = (0x4B5B_1B0D as UInt32).littleEndian
        var newline: UInt8 = 0x0A
        switch InterruptCleanup.bar[0].load(ordering: .acquiring) {
        case 1: _ = withUnsafeBytes(of: &clear) { write(2, $0.baseAddress, 4) }
        case 2: _ = withUnsafeBytes(of: &newline) { write(2, $0.baseAddress, 1) }
        default: break
        }
        let child = InterruptCleanup.child[0].load(ordering: .acquiring)
        if child != 0 {
          let pid = pid_t(truncatingIfNeeded: child)
          kill(pid, signo == SIGPIPE ? SIGTERM : signo)
          // Its end waited for before its files are removed: `dot`'s own
          // SIGINT handler writes its output file again as it ends. A
          // second at most, then SIGKILL, which ends it at once.
          var status: Int32 = 0
          var pause = timespec(tv_sec: 0, tv_nsec: 10_000_000)
          var waits = 0
          while waitpid(pid, &status, WNOHANG) == 0 {
            waits += 1
            if waits == 100 {
              kill(pid, SIGKILL)
              _ = waitpid(pid, &status, 0)
              break
            }
            nanosleep(&pause, nil)
          }
          // Reaped: a nested handler must not signal its number again.
          InterruptCleanup.child[0].store(0, ordering: .releasing)
        }
        for i in 0..<InterruptCleanup.capacity {
          let raw = InterruptCleanup.slots[i].load(ordering: .acquiring)
          if raw != 0 { unlink(UnsafePointer<CChar>(bitPattern: raw)!) }
        }
        signal(signo, SIG_DFL)
        raise(signo)
      }
      sigemptyset(&action.sa_mask)
      // A handler that returns (`ReadingInterruption`) must not fail the
      // call it interrupted: a FIFO's `open` waiting for its writer, a read.
      action.sa_flags = Int32(SA_RESTART)
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

  /// The signals whose handler cleans up.
  static let handled = [SIGINT, SIGTERM, SIGHUP, SIGPIPE]

  /// Makes sure the handler is installed (before a child is started, so
  /// that the window around its start can be closed: `spawnAndWait`).
  static func install() { _ = installed }

  /// A signal that ends the process is passed on to `pid` (0: to none)
  /// while it is the child waited for.
  static func trackChild(_ pid: pid_t) {
    _ = installed
    child[0].store(UInt(truncatingIfNeeded: Int(pid)), ordering: .releasing)
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
