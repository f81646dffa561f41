import Foundation
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
      "KernelLock.withLock<A, B>(_:) /src/Sources/Lockdep/Locks/KernelLock.swift:41",
      "closure #1 in f() /other/CacheTests.swift:7",
      "closure #2 in f() /src/Tests/AppTests/CacheTests.swift:33 [inlined]",
      "f() /src/Tests/AppTests/CacheTests.swift:35",
    ])
    let site = LockValidationTrait.site(in: text, kind: .circularDependency, of: Self.test)
    #expect(site?.filePath == "/src/Tests/AppTests/CacheTests.swift")
    #expect(site?.line == 33 && site?.column == 1)
  }

  @Test func aFileOfTheSameNameOnlyWhenTheTestsPathIsNowhere() {
    let text = Self.report([
      "g() /other/CacheTests.swift:7",
      "h() /src/Sources/App/Cache.swift:12",
    ])
    let site = LockValidationTrait.site(in: text, kind: .circularDependency, of: Self.test)
    #expect(site?.filePath == "/other/CacheTests.swift" && site?.line == 7)
    #expect(
      LockValidationTrait.site(
        in: Self.report(["h() /a/B.swift:3"]), kind: .circularDependency, of: Self.test)
        == nil)
  }

  /// SwiftPM's generated test runner (`*.derived/`, the XCTest entry
  /// points) names its files after the test files: its frame is no site
  /// of the test's, even when the test's own frame has no line (an
  /// optimized build's inlined test method, at line 0).
  @Test func aGeneratedFileOfTheSameNameIsNoSite() {
    let text = Self.report([
      "CacheTests.test() /src/Tests/AppTests/CacheTests.swift:<compiler-generated>",
      "closure /src/.build/release/AppPackageDiscoveredTests.derived/CacheTests.swift:8",
    ])
    #expect(LockValidationTrait.site(in: text, kind: .circularDependency, of: Self.test) == nil)
  }

  /// `LockValidatedTestCase` (XCTest) passes over the generated runner
  /// the same way, and over a library's build path or a file that is not
  /// there (an optimized `async` test's only frames with lines may be
  /// glibc's, `./nptl/pthread_create.c:442`) or rawlockcheck's own: the
  /// test's own frame, else none (`<unknown>`).
  /// A file of this one's name in a directory as SwiftPM names its
  /// generated XCTest runner's (`*.derived/`), made empty in a directory
  /// of its own, which the caller removes (the file's grandparent).
  static func generatedRunnerFile() throws -> URL {
    let directory = FileManager.default.temporaryDirectory
      .appendingPathComponent("site-\(UUID())/PkgPackageDiscoveredTests.derived")
    try FileManager.default.createDirectory(at: directory, withIntermediateDirectories: true)
    let generated = directory.appendingPathComponent("IssueSiteTests.swift")
    try Data().write(to: generated)
    return generated
  }

  @Test func anXCTestFailureIsNeverAtTheGeneratedRunnerOrALibrary() throws {
    let generated = try Self.generatedRunnerFile()
    defer {
      try? FileManager.default.removeItem(
        at: generated.deletingLastPathComponent().deletingLastPathComponent())
    }
    let derived = (path: generated.path, line: 8, column: 1)
    let test = (path: #filePath, line: 12, column: 5)
    let glibc = (path: "./nptl/pthread_create.c", line: 442, column: 8)
    let gone = (path: "/nonexistent/Tests/AppTests/CacheTests.swift", line: 3, column: 1)
    #expect(LockValidatedTestCase.failureSite([glibc, gone, derived, test])?.path == test.path)
    #expect(LockValidatedTestCase.failureSite([derived]) == nil)
    #expect(LockValidatedTestCase.failureSite([glibc, gone]) == nil)
    // rawlockcheck's own source (the executor that ran an `async` test's
    // job, in an optimized build) is no site either.
    let root = URL(fileURLWithPath: #filePath).deletingLastPathComponent()
      .deletingLastPathComponent().deletingLastPathComponent()
    let own = (
      path: root.appendingPathComponent("Sources/Lockdep/Validator/ScopeExecutor.swift").path,
      line: 59, column: 7
    )
    #expect(LockValidatedTestCase.failureSite([own, glibc]) == nil)
    #expect(LockValidatedTestCase.failureSite([own, test])?.path == test.path)
  }

  /// When no frame of the backtrace is a site (only the generated
  /// runner's has a line: an optimized build's held lock freed in a
  /// `deinit`), an XCTest failure is at the report's lock line, where the
  /// lock was taken in the user's code (it was at `<unknown>:0`; a user's
  /// trial found it).
  @Test func anXCTestFailureFallsBackToTheLockLine() throws {
    let generated = try Self.generatedRunnerFile()
    defer {
      try? FileManager.default.removeItem(
        at: generated.deletingLastPathComponent().deletingLastPathComponent())
    }
    let text = """
      =========================
      WARNING: held lock freed!
      -------------------------
      test/7 is freeing memory 0x1000-0x103f, with a lock still held there!
       (&pool->lock){+.+.}-{4:4}, at: Pool.drop() (\(#filePath):74)
      1 lock held by test/7:
       #0: (&pool->lock){+.+.}-{4:4}, at: Pool.drop() (\(#filePath):74)
      stack backtrace:
       #0 Pool.deinit <compiler-generated>
       #1 closure \(generated.path):8
      """
    let site = LockValidatedTestCase.failureSite(in: text, kind: .heldLockFreed)
    #expect(site?.path == #filePath && site?.line == 74, "\(String(describing: site))")
  }

  @Test func aPathWithParenthesesAndNoColumn() {
    let text = Self.report(["f() /src (copy)/Tests/AppTests/CacheTests.swift:12"])
    let test = SourceLocation(
      fileID: "AppTests/CacheTests.swift", filePath: "/src (copy)/Tests/AppTests/CacheTests.swift",
      line: 1, column: 1)
    let site = LockValidationTrait.site(in: text, kind: .circularDependency, of: test)
    #expect(site?.filePath == "/src (copy)/Tests/AppTests/CacheTests.swift")
    #expect(site?.line == 12 && site?.column == 1)
  }

  /// A lock held at exit points at where the held lock was taken: its
  /// stack is where the thread or the test ended.
  @Test func aLockHeldAtExitPointsAtItsAcquisition() {
    let text =
      "WARNING: lock held when thread exits!\n-----\nWARNING: worker/7 still has locks held!\n"
      + "1 lock held by worker/7:\n"
      + " #0: (&leaked->lock){+.+.}-{4:4}, at: Leaky.take() (/src/Tests/AppTests/CacheTests.swift:55)\n"
      + "stack backtrace:\n #0 __nptl_deallocate_tsd ./nptl/nptl_deallocate_tsd.c:73\n"
      + " #1 f() /src/Tests/AppTests/CacheTests.swift:80\n"
    let site = LockValidationTrait.site(in: text, kind: .locksHeldAtExit, of: Self.test)
    #expect(site?.line == 55 && site?.column == 1)
    let sites = LockValidationTrait.sites(in: text, kind: .locksHeldAtExit)
    #expect(sites.map(\.line) == [55, 73, 80])
    #expect(LockValidationTrait.sites(in: text, kind: .circularDependency).map(\.line) == [73, 80])
  }

  /// An optimized build's held-lock-freed report may have no frame with a
  /// source line (the freeing `deinit` is `<compiler-generated>`): the
  /// failure points at where the freed lock was taken, not at
  /// `<unknown>:0` (XCTest) or only the test's declaration.
  @Test func noSourceLineInTheBacktracePointsAtTheLocks() {
    let text =
      "WARNING: held lock freed!\n-----\nworker/7 is freeing memory 0001-0001, with a lock still held there!\n"
      + " (&session->lock){+.+.}-{3:3}, at: T.testFree() (/src/Tests/AppTests/CacheTests.swift:77)\n"
      + "1 lock held by worker/7:\n"
      + " #0: (&session->lock){+.+.}-{3:3}, at: T.testFree() (/src/Tests/AppTests/CacheTests.swift:77)\n"
      + "\nstack backtrace:\n #0 T.testFree() <compiler-generated>\n"
      + " #1 partial apply for thunk <compiler-generated> [inlined]\n"
    let sites = LockValidationTrait.sites(in: text, kind: .heldLockFreed)
    #expect(sites.first?.line == 77 && sites.first?.column == 1)
    let site = LockValidationTrait.site(in: text, kind: .heldLockFreed, of: Self.test)
    #expect(site?.line == 77)
  }
}
