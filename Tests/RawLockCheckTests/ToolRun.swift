import Foundation

/// Runs the built `rawlockcheck` and captures what it printed.
struct ToolRun {
  var status: Int32
  var stdout: String
  var stderr: String

  init(_ arguments: [String], in directory: URL = FixturePaths.traces) throws {
    let process = Process()
    process.executableURL = FixturePaths.tool
    process.arguments = arguments
    process.currentDirectoryURL = directory
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
