#if canImport(Glibc)
  import Glibc
#endif

/// Writes to standard error through its file descriptor (the C `stderr`
/// global is not concurrency-safe in Swift 6).
func writeStandardError(_ text: String) {
  var copy = text
  copy.withUTF8 { bytes in
    var offset = 0
    while offset < bytes.count {
      let n = write(2, bytes.baseAddress! + offset, bytes.count - offset)
      if n <= 0 { return }
      offset += n
    }
  }
}
