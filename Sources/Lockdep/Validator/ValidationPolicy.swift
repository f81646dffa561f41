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
