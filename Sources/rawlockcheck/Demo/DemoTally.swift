/// The distinct findings of a design's run, each with how many times it
/// happened: an occurrence of a finding already seen adds its count to
/// that finding's, a new one starts at its own count (a scope's occurrence
/// stands for every time its finding happened in the scope, not for one).
struct DemoTally {
  /// The distinct findings, in the order first seen.
  private(set) var findings: [DemoFinding] = []
  private var identities: [String: Int] = [:]

  /// Counts `count` more occurrences of the finding named `identity`;
  /// `make` (called only for a new identity) renders it.
  mutating func add(identity: String, count: Int, _ make: () -> DemoFinding) {
    if let at = identities[identity] {
      findings[at].count += count
    } else {
      identities[identity] = findings.count
      var finding = make()
      finding.count = count
      findings.append(finding)
    }
  }
}
