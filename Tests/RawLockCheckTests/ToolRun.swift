import Foundation

/// Runs the built `rawlockcheck` and captures what it printed.
struct ToolRun {
  var status: Int32
  var stdout: String
  var stderr: String

  /// Runs the tool with `arguments`; `input`, when given, is written to its
  /// standard input from a file.
  init(_ arguments: [String], in directory: URL = FixturePaths.traces, input: String? = nil) throws
  {
    let process = Process()
    process.executableURL = FixturePaths.tool
    process.arguments = arguments
    process.currentDirectoryURL = directory
    if let input {
      let file = FileManager.default.temporaryDirectory
        .appendingPathComponent("toolrun-\(UUID().uuidString)")
      try Data(input.utf8).write(to: file)
      process.standardInput = try FileHandle(forReadingFrom: file)
      defer { try? FileManager.default.removeItem(at: file) }
    }
    let out = Pipe()
    let err = Pipe()
    process.standardOutput = out
    process.standardError = err
    try process.run()
    let outData = out.fileHandleForReading.readDataToEndOfFile()
    let errData = err.fileHandleForReading.readDataToEndOfFile()
    process.waitUntilExit()
    status = process.terminationStatus
    stdout = String(decoding: outData, as: UTF8.self)
    stderr = String(decoding: errData, as: UTF8.self)
  }
}
