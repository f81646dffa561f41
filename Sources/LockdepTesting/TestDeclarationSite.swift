import Foundation

/// Where an XCTest method is declared, found in the package's sources: the
/// place a failure goes when its report names no line of a file that is
/// there (an optimized build inlines the test method into SwiftPM's
/// generated runner, whose line table gives it line 0), as a Swift Testing
/// issue goes to its test's declaration.
///
/// XCTest on Linux gives a test's class and method names only, so the
/// declaration is looked for: the first `func <method>(` after a line that
/// declares `class <Class>` (or extends it) in a Swift file under the package's
/// `Tests/` directory (the package is the one whose `.build/` holds the
/// generated runner named in the report, else the current directory, where
/// `swift test` runs), at most `maxFiles` files read.
enum TestDeclarationSite {
  /// How many files the search reads at most.
  static let maxFiles = 4_000

  /// The declaration of the test named `testName` (XCTest's `name`:
  /// `Class.method` on Linux, `-[Class method]` elsewhere), near the
  /// generated runner's path `generated` when one is known.
  static func find(testName: String, generated: String?) -> (path: String, line: Int)? {
    guard let (className, method) = split(testName) else { return nil }
    let root = packageRoot(generated: generated)
    let tests = root + "/Tests"
    var isDirectory: ObjCBool = false
    let top =
      FileManager.default.fileExists(atPath: tests, isDirectory: &isDirectory)
        && isDirectory.boolValue ? tests : root
    guard let files = FileManager.default.enumerator(atPath: top) else { return nil }
    var read = 0
    while let relative = files.nextObject() as? String, read < maxFiles {
      if relative.hasPrefix(".build") || relative.contains("/.build/") {
        files.skipDescendants()
        continue
      }
      guard relative.hasSuffix(".swift") else { continue }
      read += 1
      let path = top + "/" + relative
      guard let text = try? String(contentsOfFile: path, encoding: .utf8),
        text.contains(className),
        let line = declarationLine(of: method, in: className, text: text)
      else { continue }
      return (path, line)
    }
    return nil
  }

  /// The class and method of XCTest's `name`.
  static func split(_ name: String) -> (className: String, method: String)? {
    var name = Substring(name)
    if name.hasPrefix("-[") && name.hasSuffix("]") {
      name = name.dropFirst(2).dropLast()
      let parts = name.split(separator: " ")
      guard parts.count == 2 else { return nil }
      return (String(parts[0].split(separator: ".").last ?? parts[0]), String(parts[1]))
    }
    guard let dot = name.lastIndex(of: ".") else { return nil }
    let className = name[..<dot].split(separator: ".").last.map(String.init) ?? ""
    let method = String(name[name.index(after: dot)...])
    guard !className.isEmpty, !method.isEmpty else { return nil }
    return (className, method)
  }

  /// The 1-based line of the first `func <method>(` in `text` after a
  /// line that declares or extends `className` (`class BankTests`, not
  /// `class BankTestsSlow`).
  static func declarationLine(of method: String, in className: String, text: String) -> Int? {
    let needle = "func \(method)("
    var line = 1
    var inClass = false
    for row in text.split(separator: "\n", omittingEmptySubsequences: false) {
      if declares(className, row) {
        inClass = true
      } else if inClass && row.contains(needle) {
        return line
      }
      line += 1
    }
    return nil
  }

  /// Whether `row` declares or extends `className`: `class` or
  /// `extension` before the name, and no identifier character after it.
  static func declares(_ className: String, _ row: Substring) -> Bool {
    for keyword in ["class ", "extension "] {
      var rest = row[...]
      while let found = rest.range(of: keyword + className) {
        let after = rest[found.upperBound...].first
        if after.map({ !($0.isLetter || $0.isNumber || $0 == "_") }) ?? true { return true }
        rest = rest[found.upperBound...]
      }
    }
    return false
  }

  /// The package whose `.build/` holds `generated`, else the current
  /// directory.
  static func packageRoot(generated: String?) -> String {
    if let generated, let build = generated.range(of: "/.build/") {
      return String(generated[..<build.lowerBound])
    }
    return FileManager.default.currentDirectoryPath
  }
}
