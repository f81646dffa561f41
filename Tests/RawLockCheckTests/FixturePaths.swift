import Foundation

/// Paths of the repository's fixtures and of the built tool, for tests.
enum FixturePaths {
  static let root = URL(fileURLWithPath: #filePath)
    .deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent()
  static let traces = root.appendingPathComponent("Fixtures/traces")
  static let reports = root.appendingPathComponent("Fixtures/reports")

  /// Every `.rlt` file below `directory`, sorted.
  static func traces(under directory: URL) -> [URL] {
    let files = FileManager.default.enumerator(at: directory, includingPropertiesForKeys: nil)
    var result: [URL] = []
    while let url = files?.nextObject() as? URL {
      if url.pathExtension == "rlt" { result.append(url) }
    }
    return result.sorted { $0.path < $1.path }
  }

  /// The `rawlockcheck` executable built next to the test bundle.
  static var tool: URL {
    var dir = URL(fileURLWithPath: CommandLine.arguments[0]).deletingLastPathComponent()
    for _ in 0..<4 {
      let candidate = dir.appendingPathComponent("rawlockcheck")
      if FileManager.default.isExecutableFile(atPath: candidate.path) { return candidate }
      dir = dir.deletingLastPathComponent()
    }
    return root.appendingPathComponent(".build/debug/rawlockcheck")
  }

  /// `# key: value` header comments of a trace.
  static func header(of url: URL) -> [String: String] {
    guard let text = try? String(contentsOf: url, encoding: .utf8) else { return [:] }
    var result: [String: String] = [:]
    for line in text.split(separator: "\n").prefix(20) where line.hasPrefix("# ") {
      let body = line.dropFirst(2)
      guard let colon = body.firstIndex(of: ":") else { continue }
      let key = body[..<colon].trimmingCharacters(in: .whitespaces)
      if key.contains(" ") { continue }
      let value = body[body.index(after: colon)...]
      let cut = value.firstIndex(of: "(").map { value[..<$0] } ?? value
      result[key] = cut.trimmingCharacters(in: .whitespaces)
    }
    return result
  }
}
