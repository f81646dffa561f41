import Basics
import LockGraph
import Synchronization

/// A scope whose findings are collected apart from the rest of the
/// process: a test, in `LockdepTesting`. A finding belongs to the scope
/// bound (as a task-local value) where it happened: the test's task, or a
/// thread that runs `scope.run { }`.
public final class LockValidationScope: Sendable {
  /// One finding as a scope saw it.
  public struct Occurrence: Sendable {
    /// The finding (its `count` is as stored when it happened).
    public var finding: Finding
    /// Its lockdep-style text, symbolized (rendered when asked for: a
    /// finding that repeats thousands of times is not symbolized each time).
    public var text: String { LiveValidator.shared.render(finding) }
  }

  @TaskLocal static var bound: LockValidationScope?
  private let occurrences = PThreadMutex<[Occurrence]>([])

  /// A new, empty scope.
  public init() {}

  /// The scope bound where the caller runs, if any.
  public static var current: LockValidationScope? { bound }

  /// Runs `body` with this scope bound: findings it causes are collected here.
  public func run<R>(_ body: () throws -> R) rethrows -> R {
    try Self.$bound.withValue(self) {
      // Signal handlers' events queued on this thread belong to the scope.
      defer { Live.replayPending() }
      return try body()
    }
  }

  /// Runs `body` with this scope bound (asynchronous form).
  public func run<R: Sendable>(_ body: () async throws -> R) async rethrows -> R {
    try await Self.$bound.withValue(self) {
      defer { Live.replayPending() }
      return try await body()
    }
  }

  func record(_ finding: Finding) {
    occurrences.withLock { $0.append(Occurrence(finding: finding)) }
  }

  /// Runs `body` in a new scope and says what a test should complain
  /// about: with `kind`, that no finding of that kind happened (one
  /// message, or none); without, every finding (one message each, with its
  /// lockdep-style text). Also returns what happened.
  public static func check<R>(expecting kind: FindingKind?, _ body: () throws -> R) rethrows
    -> (result: R, findings: [Finding], complaints: [String])
  {
    let scope = LockValidationScope()
    let result = try scope.run(body)
    let occurrences = scope.findings
    let found = occurrences.map(\.finding)
    guard let kind else {
      return (
        result, found,
        occurrences.map { "lock validation: \($0.finding.kind.rawValue)\n\($0.text)" }
      )
    }
    if found.contains(where: { $0.kind == kind }) { return (result, found, []) }
    let seen = found.map(\.kind.rawValue).joined(separator: ", ")
    return (
      result, found, ["expected a \(kind.rawValue) finding, found \(seen.isEmpty ? "none" : seen)"]
    )
  }

  /// Every finding that happened in this scope, in order (repeats included).
  public var findings: [Occurrence] { occurrences.withLock { $0 } }
}
