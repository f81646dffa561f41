#if canImport(Glibc)
  import Glibc
#endif

/// Writes all of `bytes` to `descriptor`, retrying short writes and `EINTR`;
/// gives up silently when the descriptor is closed or full (`EPIPE`, `ENOSPC`):
/// there is nobody left to tell.
func writeAll(_ bytes: [UInt8], to descriptor: Int32) {
  bytes.withUnsafeBytes { bytes in
    var offset = 0
    while offset < bytes.count {
      let written = write(descriptor, bytes.baseAddress! + offset, bytes.count - offset)
      if written < 0, errno == EINTR { continue }
      if written <= 0 { return }
      offset += written
    }
  }
}

/// Writes to standard error through its file descriptor (the C `stderr`
/// global is not concurrency-safe in Swift 6).
func writeStandardError(_ text: String) {
  writeAll(Array(text.utf8), to: 2)
}
