import Basics

#if canImport(Glibc)
  import Glibc
#endif

/// The `RAWLOCKCHECK_*` variables of the process environment, read without
/// Foundation. A variable set to the empty string counts as unset (as
/// `RAWLOCKCHECK= program` is a common way to unset one); a value a
/// variable cannot take is said in one line on standard error and
/// ignored.
package enum ProcessEnvironment {
  /// The value of `name`; nil when it is unset or empty.
  static func value(_ name: String) -> String? {
    guard let raw = getenv(name), raw.pointee != 0 else { return nil }
    return String(cString: raw)
  }

  /// A yes-or-no variable: `1`, `true`, `yes` or `on` turn it on; `0`,
  /// `false`, `no`, `off` (in any case), the empty string or no variable
  /// leave it off; any other value is said and leaves it off.
  package static func flag(_ name: String) -> Bool {
    guard let value = value(name) else { return false }
    switch value.lowercased() {
    case "1", "true", "yes", "on": return true
    case "0", "false", "no", "off": return false
    default:
      ignore(name, value, "is not 1 or 0 (or true/false, yes/no, on/off)")
      return false
    }
  }

  /// Says that `name`'s `value` is ignored, and why (`reason`), in one
  /// line: the value's control characters escaped (a newline in it split
  /// the line, an escape reached the terminal).
  static func ignore(_ name: String, _ value: String, _ reason: String) {
    printToStandardError(
      "rawlockcheck: \(name)=\(QuotedText.printable(value)) \(reason); ignored\n")
  }
}
