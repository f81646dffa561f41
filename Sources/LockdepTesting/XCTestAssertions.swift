import LockGraph
import Lockdep
import XCTest

/// Fails the XCTest test unless `body` causes no lock-validation finding;
/// each finding's lockdep-style report is in the failure message, at the
/// offending line when it is in the assertion's file (the innermost frame
/// of the finding's stack there), else at the assertion.
@discardableResult
public func XCTAssertNoLockViolations<R>(
  _ body: () throws -> R, file: StaticString = #filePath, line: UInt = #line
) rethrows -> R {
  let checked = try LockValidationScope.check(expecting: nil, body)
  // One complaint per finding, in order (`check(expecting: nil, _:)`).
  for (finding, complaint) in zip(checked.findings, checked.complaints) {
    let site = LockValidationTrait.site(in: complaint, kind: finding.kind, inFile: "\(file)")
    XCTFail(complaint, file: file, line: site.map { UInt($0.line) } ?? line)
  }
  return checked.result
}

/// Fails the XCTest test unless `body` causes a finding of `kind`; returns
/// the findings it caused, of every kind, in the order they happened (see
/// `expectLockViolation`). `body` runs isolated (see `expectLockViolation`):
/// the rule-breaking it proves is found is not left to fail other tests.
@discardableResult
public func XCTAssertLockViolation<R>(
  _ kind: FindingKind, _ body: () throws -> R, file: StaticString = #filePath,
  line: UInt = #line
) rethrows -> [Finding] {
  let checked = try LockValidationScope.check(expecting: kind, body)
  for complaint in checked.complaints { XCTFail(complaint, file: file, line: line) }
  return checked.findings
}

/// An `XCTestCase` each of whose tests fails on every lock-validation
/// finding it causes, as Swift Testing's `.lockValidation` trait makes a
/// test fail: the test runs in a `LockValidationScope` of its own, and each
/// finding is a failure with the lockdep-style report, at the innermost
/// frame of its stack that has a source line outside rawlockcheck (the
/// offending line), else the report's lock line (where a lock it names
/// was taken); for a lock still held when the test returns, where that
/// lock was taken.
///
/// ```swift
/// final class WorkQueueTests: LockValidatedTestCase {
///   func testFlush() { WorkQueue().flush() }   // fails on a finding
/// }
/// ```
///
/// `XCTAssertLockViolation` inside such a test proves a finding without
/// failing it, as `expectLockViolation` does under the trait.
open class LockValidatedTestCase: XCTestCase {
  /// rawlockcheck's own `Sources/` directory, as its frames name it.
  private static let ownSources: String = {
    var path = "\(#filePath)".split(separator: "/", omittingEmptySubsequences: false)
    path.removeLast(2)
    return path.joined(separator: "/") + "/"
  }()

  /// Where a finding fails the test: the first of its `sites` at a file
  /// that is there (not a library's build path, `./nptl/pthread_create.c`:
  /// an optimized `async` test's frames are not on the thread's
  /// frame-pointer chain), in neither rawlockcheck's sources (the executor
  /// that ran the test's job) nor SwiftPM's generated XCTest runner
  /// (`*.derived/`, whose files are named after the test files: an
  /// optimized build's inlined test method has no line of its own, and
  /// the runner's frame was taken for it); nil when none is (`<unknown>`).
  static func failureSite(
    _ sites: [(path: String, line: Int, column: Int)]
  ) -> (path: String, line: Int, column: Int)? {
    sites.first {
      !$0.path.hasPrefix(ownSources) && !LockValidationTrait.isGenerated($0.path)
        && $0.path.hasPrefix("/") && access($0.path, F_OK) == 0
    }
  }

  /// Where the finding reported as `text` fails the test: the first
  /// `failureSite` of its `sites`, else of its lock lines (where the locks
  /// it names were taken): an optimized build's backtrace may have no
  /// frame with a line but the generated runner's (a held lock freed in a
  /// `deinit`), and the failure was at `<unknown>` though the report named
  /// the lock's line in the user's code.
  static func failureSite(in text: String, kind: FindingKind) -> (
    path: String, line: Int, column: Int
  )? {
    failureSite(LockValidationTrait.sites(in: text, kind: kind))
      ?? failureSite(LockValidationTrait.lockSites(in: text))
  }

  /// Where this test is declared (`TestDeclarationSite`): where a finding
  /// whose report names no line of a file that is there fails it, as an
  /// optimized build's, whose test method is inlined into the generated
  /// runner (it failed at `<unknown>` before 2026-12-06).
  private func declarationSite(in text: String, kind: FindingKind) -> (
    path: String, line: Int, column: Int
  )? {
    let generated = LockValidationTrait.sites(in: text, kind: kind).first {
      LockValidationTrait.isGenerated($0.path)
    }
    return TestDeclarationSite.find(testName: name, generated: generated?.path).map {
      ($0.path, $0.line, 1)
    }
  }

  /// Runs the test in a scope of its own, then fails it once per distinct
  /// finding (a repeat says how many times it happened).
  open override func invokeTest() {
    let scope = LockValidationScope(endName: "the test")
    // An `async` test method runs in a task XCTest starts: its jobs are
    // checked as they end (a lock held across an `await`, or left held
    // as it returns, is this test's finding).
    scope.runRoutingGlobalJobs { super.invokeTest() }
    for occurrence in scope.findings {
      let text = occurrence.text
      let site =
        Self.failureSite(in: text, kind: occurrence.finding.kind)
        ?? declarationSite(in: text, kind: occurrence.finding.kind)
      recordFailure(
        withDescription: "\(occurrence.title)\n\(text)",
        inFile: site?.path ?? "<unknown>", atLine: site?.line ?? 0, expected: true)
    }
  }
}
