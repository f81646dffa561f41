/// Distinct findings in the order first seen, each with a count.
///
/// Invariant: two findings are the same when they have the same kind, the
/// same classes and the same site (stack, else return address); the store
/// keeps the first and counts the rest.
public struct FindingStore: Sendable {
  struct Key: Hashable {
    var kind: FindingKind
    var classes: [Int32]
    var site: UInt64
  }

  /// The distinct findings, in the order they were first recorded.
  public private(set) var findings: [Finding] = []
  private var index: [Key: Int] = [:]

  /// An empty store.
  public init() {}

  /// Records one occurrence; returns true when it is a new distinct finding.
  @discardableResult
  mutating func record(_ finding: Finding, classes: [ClassID]) -> Bool {
    let key = Key(
      kind: finding.kind, classes: classes.map(\.raw), site: finding.origin.siteKey)
    if let i = index[key] {
      findings[i].count += 1
      return false
    }
    index[key] = findings.count
    var first = finding
    first.count = 1
    findings.append(first)
    return true
  }

  /// The number of distinct findings.
  public var count: Int { findings.count }

  /// Distinct findings per kind.
  public var summary: [FindingKind: Int] {
    var result: [FindingKind: Int] = [:]
    for f in findings { result[f.kind, default: 0] += 1 }
    return result
  }
}
