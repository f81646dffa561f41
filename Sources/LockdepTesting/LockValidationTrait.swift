import Basics
import LockGraph
import Lockdep
import Testing

/// A Swift Testing trait that validates the locking of a test: the test
/// runs in a `LockValidationScope`, and every finding it causes (on its own
/// task, or on threads that run inside the scope) fails it, with the
/// lockdep-style report in the issue.
///
/// ```swift
/// @Test(.lockValidation) func refill() { ... }
/// @Suite(.lockValidation) struct AllocatorTests { ... }
/// ```
///
/// Findings are kept apart per test, so tests may run in parallel; the
/// class graph is the process's, so a lock order that one test sets up and
/// another reverses is reported in the second. A negative test
/// (`expectLockViolation`) is the exception: it runs isolated, and what it
/// teaches the validator does not outlive it.
public struct LockValidationTrait: TestTrait, SuiteTrait, TestScoping {
  /// The trait (also spelled `.lockValidation`).
  public init() {}

  /// Applied to every test of a suite it is attached to.
  public var isRecursive: Bool { true }

  /// Runs the test in a scope of its own and records an issue per finding.
  public func provideScope(
    for test: Test, testCase: Test.Case?, performing function: @Sendable () async throws -> Void
  ) async throws {
    // A suite's scope does nothing itself: each of its tests gets its own.
    guard testCase != nil || !test.isSuite else {
      try await function()
      return
    }
    // A finding on the test's own task is an issue at once, where it
    // happened (so `withKnownIssue` around the offending call covers it);
    // one on a thread run in the scope (no test is current there), after
    // the test.
    let location = test.sourceLocation
    // A test that returns holding a lock it took, or suspends at an
    // `await` holding one, or leaves the main actor holding one, fails
    // (`LockValidationScope.run`).
    let scope = LockValidationScope(
      reporter: { occurrence in
        guard Test.current != nil else { return false }
        Self.recordIssue(occurrence, test: location)
        return true
      }, endName: "the test")
    // Those of threads run in the scope, and a lock left held, are issues
    // of a test that throws too (a failed `#require` throws).
    defer {
      for occurrence in scope.unreportedFindings {
        Self.recordIssue(occurrence, test: location)
      }
    }
    try await scope.run { try await function() }
  }

  /// An issue of the current test for `occurrence`: its lockdep-style
  /// report, at the offending line in the test's file.
  static func recordIssue(_ occurrence: LockValidationScope.Occurrence, test: SourceLocation) {
    let text = occurrence.text
    Issue.record(
      Comment(rawValue: "\(occurrence.title)\n\(text)"),
      sourceLocation: site(in: text, kind: occurrence.finding.kind, of: test) ?? test)
  }

  /// Where in the test's own file a finding happened: the innermost frame
  /// of its stack backtrace in that file, so that the issue points at the
  /// offending line rather than at the test's declaration; a frame of the
  /// test's own path first, else of its file name; nil when none is.
  static func site(
    in text: String, kind: FindingKind, of test: SourceLocation
  ) -> SourceLocation? {
    site(in: text, kind: kind, inFile: test.filePath).map {
      SourceLocation(fileID: test.fileID, filePath: $0.path, line: $0.line, column: $0.column)
    }
  }

  /// `site(in:kind:of:)` for the file at `path` (XCTest's `#filePath`):
  /// the innermost frame with that path, else with its file name, but not
  /// in a file SwiftPM generated (`*.derived/`: its XCTest runner names
  /// its files after the test files).
  static func site(
    in text: String, kind: FindingKind, inFile path: String
  ) -> (path: String, line: Int, column: Int)? {
    let name = path.split(separator: "/").last
    var byName: (path: String, line: Int, column: Int)? = nil
    for frame in sites(in: text, kind: kind) {
      if frame.path == path { return frame }
      if byName == nil, frame.path.split(separator: "/").last == name,
        !isGenerated(frame.path)
      {
        byName = frame
      }
    }
    return byName
  }

  /// Whether `path` is a file SwiftPM generated (`*.derived/`: its XCTest
  /// runner, whose files are named after the test files), never a site.
  static func isGenerated(_ path: String) -> Bool { path.contains(".derived/") }

  /// The source locations a report names, most telling first: for a
  /// lock held at exit, where the held locks were taken (its stack is
  /// where the thread or the test ended, not where the lock was left
  /// held); then its stack backtrace's frames, innermost first.
  /// When no frame of the backtrace has a source line (an optimized
  /// build's frame of a freed object's `deinit`, `<compiler-generated>`),
  /// the report's lock lines stand for it: where the locks it names were
  /// taken, the lock's own first.
  static func sites(in text: String, kind: FindingKind) -> [(path: String, line: Int, column: Int)]
  {
    let frames = frameSites(in: text)
    guard kind == .locksHeldAtExit, let held = text.range(of: " held by ") else {
      return frames.isEmpty ? lockSites(in: text) : frames
    }
    let end = text.range(of: "stack backtrace:\n")?.lowerBound ?? text.endIndex
    guard held.upperBound < end else { return frames }
    // ` #0: (&name){+.+.}-{4:4}, at: f() (/path/File.swift:12)`
    let acquired = text[held.upperBound..<end].split(separator: "\n").compactMap {
      $0.hasPrefix(" #") && $0.contains(", at: ") ? site(ofLine: $0) : nil
    }
    return acquired + frames
  }

  /// The source locations of a report's lock lines (`..., at: f() (/path/File.swift:12)`)
  /// before its stack backtrace, in the order printed.
  static func lockSites(in text: String) -> [(path: String, line: Int, column: Int)] {
    let end = text.range(of: "stack backtrace:\n")?.lowerBound ?? text.endIndex
    return text[..<end].split(separator: "\n").compactMap {
      $0.contains(", at: ") ? site(ofLine: $0) : nil
    }
  }

  /// The source locations of a report's stack backtrace, innermost first:
  /// each frame line with a line number (` #2 f() /path/File.swift:12`,
  /// maybe followed by ` [inlined]`).
  static func frameSites(in text: String) -> [(path: String, line: Int, column: Int)] {
    guard let backtrace = text.range(of: "stack backtrace:\n") else { return [] }
    return text[backtrace.upperBound...].split(separator: "\n").compactMap {
      $0.hasPrefix(" #") ? site(ofLine: $0) : nil
    }
  }

  /// The location of a report line's frame (after a lock line's `at: `, or
  /// a backtrace's ` #N `), when it has a line number; the column is 1
  /// (reports print file and line).
  private static func site(ofLine text: Substring) -> (path: String, line: Int, column: Int)? {
    let frame: Substring
    if let at = text.range(of: ", at: ") {
      frame = text[at.upperBound...]
    } else {
      // ` #2 f() /path/File.swift:12`
      let body = text.drop { $0 == " " }
      guard body.first == "#" else { return nil }
      frame = body.drop { $0 != " " }.dropFirst()
    }
    let location = FrameText.location(in: frame)
    guard let file = location.file, location.line > 0 else { return nil }
    return (String(file), location.line, 1)
  }
}

extension Trait where Self == LockValidationTrait {
  /// Fails the test on any lock-validation finding it causes.
  public static var lockValidation: Self { LockValidationTrait() }
}

/// Runs `body` and records an issue unless it caused a finding of `kind`
/// (or validation is compiled out of this build); returns the findings it
/// caused, of every kind, in the order they happened (one mistake can be
/// two: a mutex taken under a raw spin lock is `sleepInAtomic`, from the
/// mutex's `might_sleep()`, then `invalidWaitContext`, as in the kernel;
/// filter by `kind` for the one asked for). Findings in `body` do not
/// reach the enclosing test's scope, so a negative test can use
/// `.lockValidation` too.
///
/// `body` runs in an isolated `LockValidationScope`: its events are
/// validated against a fork of the process's validator, which starts from
/// everything learnt before, so the lock order and irq usage that `body`
/// sets up on purpose are not left to fail other tests. So what `body`
/// finds besides `kind` can depend on the tests that ran before it (a
/// lock order another test set up makes a cycle of an order `body`
/// takes). Threads that `body` starts join it with
/// `LockValidationScope.current!.run { }`; a `Task {}` it starts runs
/// with the process, not in the scope (its findings are not the body's).
@discardableResult
public func expectLockViolation<R>(
  _ kind: FindingKind, sourceLocation: SourceLocation = #_sourceLocation,
  _ body: () throws -> R
) rethrows -> [Finding] {
  let checked = try LockValidationScope.check(expecting: kind, body)
  for complaint in checked.complaints {
    Issue.record(Comment(rawValue: complaint), sourceLocation: sourceLocation)
  }
  return checked.findings
}

/// Runs `body` and records an issue for every finding it caused.
@discardableResult
public func expectNoLockViolations<R>(
  sourceLocation: SourceLocation = #_sourceLocation, _ body: () throws -> R
) rethrows -> R {
  let checked = try LockValidationScope.check(expecting: nil, body)
  // One complaint per finding, in order (`check(expecting: nil, _:)`).
  for (finding, complaint) in zip(checked.findings, checked.complaints) {
    Issue.record(
      Comment(rawValue: complaint),
      sourceLocation: LockValidationTrait.site(
        in: complaint, kind: finding.kind, of: sourceLocation)
        ?? sourceLocation)
  }
  return checked.result
}
