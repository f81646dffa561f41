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
    guard let input else {
      try self.init(arguments, in: directory, standardInput: nil)
      return
    }
    let file = FileManager.default.temporaryDirectory
      .appendingPathComponent("toolrun-\(UUID().uuidString)")
    try Data(input.utf8).write(to: file)
    defer { try? FileManager.default.removeItem(at: file) }
    try self.init(arguments, in: directory, standardInput: FileHandle(forReadingFrom: file))
  }

  /// Runs `executable` (not the tool) with `arguments`, as `init` runs the
  /// tool.
  static func command(_ executable: String, _ arguments: [String]) throws -> ToolRun {
    try ToolRun(
      arguments, in: FixturePaths.traces, standardInput: nil,
      executable: URL(fileURLWithPath: executable))
  }

  /// Runs the tool with `arguments` and `standardInput` (the test's own when nil);
  /// `standardOutput`, when given, replaces the pipe `stdout` is read from.
  init(
    _ arguments: [String], in directory: URL = FixturePaths.traces, standardInput: FileHandle?,
    standardOutput: FileHandle? = nil, executable: URL = FixturePaths.tool
  ) throws {
    let process = Process()
    process.executableURL = executable
    process.arguments = arguments
    process.currentDirectoryURL = directory
    if let standardInput { process.standardInput = standardInput }
    let out = Pipe()
    let err = Pipe()
    process.standardOutput = standardOutput ?? out
    process.standardError = err
    try process.run()
    // The parent's copy of the write end must close for the read to end.
    if standardOutput != nil { try out.fileHandleForWriting.close() }
    let outData = out.fileHandleForReading.readDataToEndOfFile()
    let errData = err.fileHandleForReading.readDataToEndOfFile()
    process.waitUntilExit()
    status = process.terminationStatus
    stdout = String(decoding: outData, as: UTF8.self)
    stderr = String(decoding: errData, as: UTF8.self)
  }
}
