#if canImport(Glibc)
  import Glibc
#endif

/// Opening a file that a trace or a user names, for reading, only when it
/// is a regular file: a FIFO, a device or a socket named as a module or an
/// input would block the open or the reads forever (`/dev/zero` never
/// ends, a FIFO without a writer never opens).
public enum RegularFile {
  /// A read-only descriptor of `path` when it is a regular file, else nil
  /// (`errno` is `EINVAL` for another kind of file). Opened without
  /// blocking, so a FIFO is refused at once; close it with `close(2)`.
  public static func openForReading(_ path: String) -> Int32? {
    let fd = open(path, O_RDONLY | O_CLOEXEC | O_NONBLOCK)
    guard fd >= 0 else { return nil }
    var info = stat()
    guard fstat(fd, &info) == 0, info.st_mode & S_IFMT == S_IFREG else {
      close(fd)
      errno = EINVAL
      return nil
    }
    return fd
  }

  /// Whether `path` is there and is no regular file (a FIFO, a device, a
  /// socket, a directory): a place to leave alone where another library
  /// would open it (a FIFO's open blocks until a writer comes).
  public static func isOtherThanRegular(_ path: String) -> Bool {
    var info = stat()
    return stat(path, &info) == 0 && info.st_mode & S_IFMT != S_IFREG
  }
}
