import ArgumentParser

#if canImport(Glibc)
  import Glibc
#endif

// Exit statuses of spec/reports.md: 0 clean, 1 findings, 2 bad usage or an
// unreadable trace. swift-argument-parser would use 64 for usage errors.
do {
  var command = try RawLockCheck.parseAsRoot()
  try command.run()
} catch let code as ExitCode {
  exit(code.rawValue)
} catch {
  let status = RawLockCheck.exitCode(for: error)
  if status == .success {
    RawLockCheck.exit(withError: error)
  }
  let message = RawLockCheck.fullMessage(for: error)
  if !message.isEmpty { writeStandardError(message + "\n") }
  exit(2)
}
