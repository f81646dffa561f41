import Testing

@testable import LockdepTesting

/// `LockValidationTrait.site`: the frame of a finding's backtrace that the
/// issue points at.
@Suite struct IssueSiteTests {
  static let test = SourceLocation(
    fileID: "AppTests/CacheTests.swift", filePath: "/src/Tests/AppTests/CacheTests.swift",
    line: 10, column: 4)

  static func report(_ frames: [String]) -> String {
    "WARNING: possible circular locking dependency detected\nstack backtrace:\n"
      + frames.enumerated().map { " #\($0.offset) \($0.element)" }.joined(separator: "\n") + "\n"
  }

  @Test func theInnermostFrameOfTheTestsOwnPath() {
    let text = Self.report([
      "KernelLock.withLock<A, B>(_:) (/src/Sources/Lockdep/Locks/KernelLock.swift:41:16)",
      "closure #1 in f() (/other/CacheTests.swift:7:3)",
      "closure #2 in f() (/src/Tests/AppTests/CacheTests.swift:33:9) [inlined]",
      "f() (/src/Tests/AppTests/CacheTests.swift:35:5)",
    ])
    let site = LockValidationTrait.site(in: text, of: Self.test)
    #expect(site?.filePath == "/src/Tests/AppTests/CacheTests.swift")
    #expect(site?.line == 33 && site?.column == 9)
  }

  @Test func aFileOfTheSameNameOnlyWhenTheTestsPathIsNowhere() {
    let text = Self.report([
      "g() (/other/CacheTests.swift:7:3)",
      "h() (/src/Sources/App/Cache.swift:12)",
    ])
    let site = LockValidationTrait.site(in: text, of: Self.test)
    #expect(site?.filePath == "/other/CacheTests.swift" && site?.line == 7)
    #expect(
      LockValidationTrait.site(in: Self.report(["h() (/a/B.swift:3:1)"]), of: Self.test) == nil)
  }

  @Test func aPathWithParenthesesAndNoColumn() {
    let text = Self.report(["f() (/src (copy)/Tests/AppTests/CacheTests.swift:12)"])
    let test = SourceLocation(
      fileID: "AppTests/CacheTests.swift", filePath: "/src (copy)/Tests/AppTests/CacheTests.swift",
      line: 1, column: 1)
    let site = LockValidationTrait.site(in: text, of: test)
    #expect(site?.filePath == "/src (copy)/Tests/AppTests/CacheTests.swift")
    #expect(site?.line == 12 && site?.column == 1)
  }
}
