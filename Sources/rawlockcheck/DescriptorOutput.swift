import Basics
import Report

#if canImport(Glibc)
  import Glibc
#endif

/// Writes all of `bytes` to `descriptor`, retrying short writes and `EINTR`.
/// - Returns: 0, or the `errno` of the write that failed (`EIO` when a
///   write wrote nothing); the caller decides whether anyone is told.
@discardableResult
func writeAll(_ bytes: [UInt8], to descriptor: Int32) -> Int32 {
  bytes.withUnsafeBytes { bytes in
    var offset = 0
    while offset < bytes.count {
      let written = write(descriptor, bytes.baseAddress! + offset, bytes.count - offset)
      if written < 0, errno == EINTR { continue }
      if written < 0 { return errno }
      if written == 0 { return EIO }
      offset += written
    }
    return 0
  }
}

/// Writes a message to standard error through its file descriptor (the C
/// `stderr` global is not concurrency-safe in Swift 6), with what a
/// terminal would not show as itself escaped (`QuotedText.terminalLines`).
/// A failure is ignored: there is nobody left to tell.
func writeStandardError(_ text: String) {
  writeAll(Array(QuotedText.terminalLines(text).utf8), to: 2)
}

/// `writeStandardError` of text meant for the terminal as it is (the
/// progress bar's carriage return and erase-line sequence).
func writeStandardErrorUnescaped(_ text: String) {
  writeAll(Array(text.utf8), to: 2)
}

/// Writes a command's output to standard output through its file
/// descriptor (not `print`, whose failures go unseen).
/// - Throws: `OutputError` naming standard output when the write fails.
func writeStandardOutput(_ text: String) throws(OutputError) {
  try writeStandardOutput(Array(text.utf8))
}

/// `writeStandardOutput` of bytes already encoded (a large JSON document).
func writeStandardOutput(_ bytes: [UInt8]) throws(OutputError) {
  let failure = writeAll(bytes, to: 1)
  if failure != 0 { throw OutputError.writeFailed(OutputError.standardOutput, failure) }
}

/// `writeStandardOutput` of a JSON document, a piece at a time as it is
/// made (a report's text may be far larger than what the validator
/// keeps), at nesting level `indent` (`JSONValue.write(pretty:indent:chunk:to:)`);
/// the first write that fails ends the output.
func writeStandardOutput(_ document: JSONValue, indent: Int = 0) throws(OutputError) {
  var failure: OutputError? = nil
  document.write(indent: indent) { bytes in
    defer { bytes.removeAll(keepingCapacity: true) }
    guard failure == nil else { return }
    do throws(OutputError) { try writeStandardOutput(bytes) } catch { failure = error }
  }
  if let failure { throw failure }
}

/// An output that cannot be written: `main` prints it as one line,
/// `rawlockcheck: <name>: <message>`, and exits with status 2.
struct OutputError: Error, CustomStringConvertible {
  /// The output's path, or `standard output`.
  var name: String
  /// What went wrong.
  var message: String

  /// The name of standard output in messages.
  static let standardOutput = "standard output"

  /// A failed write to `name`, with the `errno` it failed with.
  static func writeFailed(_ name: String, _ code: Int32) -> OutputError {
    OutputError(name: name, message: "write failed: \(String(cString: strerror(code)))")
  }

  /// `name: message`.
  var description: String { "\(QuotedText.fileName(name)): \(message)" }
}
