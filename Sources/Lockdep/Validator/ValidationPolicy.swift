/// What the live validator does with a finding.
public enum ValidationPolicy: String, Sendable, CaseIterable {
  /// Validate nothing (`RAWLOCKCHECK=off`).
  case off
  /// Print each new distinct finding to standard error and go on (the default).
  case print
  /// Print the finding, then abort the process.
  case abort
  /// Keep findings without printing; read them with `LockValidation.findings`.
  case collect

  /// The policy `RAWLOCKCHECK` sets, or nil when it is unset or unknown.
  static func fromEnvironment(_ value: String?) -> ValidationPolicy? {
    guard let value else { return nil }
    return ValidationPolicy(rawValue: value.lowercased())
  }
}

extension ValidationPolicy {
  /// The policy's number in an atomic word, its place in `allCases`,
  /// found without making `allCases`: an array, which a debug build
  /// allocates, and the policy is read in a signal handler (an RCU
  /// read-side section's slow path), which may have interrupted `malloc`.
  var number: UInt8 {
    switch self {
    case .off: 0
    case .print: 1
    case .abort: 2
    case .collect: 3
    }
  }

  /// The policy numbered `number` (`number`), if any.
  init?(number: UInt8) {
    switch number {
    case 0: self = .off
    case 1: self = .print
    case 2: self = .abort
    case 3: self = .collect
    default: return nil
    }
  }
}
