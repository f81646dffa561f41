#if canImport(Glibc)
  import Glibc
#endif

/// Makes a new file named `prefix`, six random characters, then `suffix`,
/// open for reading and writing (mode 0600) and closed on exec.
/// - Returns: its descriptor and path, or nil (with `errno` set) when it
///   cannot be made.
func makeTemporaryFile(prefix: String, suffix: String = "") -> (fd: Int32, path: String)? {
  var template = Array("\(prefix)XXXXXX\(suffix)".utf8CString)
  let fd = template.withUnsafeMutableBufferPointer {
    mkstemps($0.baseAddress!, Int32(suffix.utf8.count))
  }
  if fd < 0 { return nil }
  _ = fcntl(fd, F_SETFD, FD_CLOEXEC)
  return (fd, template.withUnsafeBufferPointer { String(cString: $0.baseAddress!) })
}
