import CElfutils
import Glibc

/// Turns linkage names into readable names.
///
/// Swift names (`$s…`, `_T0…`, `$S…`, `_$s…`) become the Swift runtime
/// backtracer's simplified form (`Module.Type.method(arg:)`); C++ names
/// (`_Z…`) become what `c++filt` prints. Anything else (C names, names that do
/// not demangle) is returned unchanged. Stateless and thread-safe.
public enum Demangler {
  /// The readable form of `name`, or `name` itself when it is not mangled.
  public static func demangle(_ name: String) -> String {
    readable(name) ?? name
  }

  /// The readable form of a mangled `name`; nil when it is not mangled or
  /// no demangler reads it (GCC 12's `__cxa_demangle` does not know the
  /// C++20 productions clang 17 and later emit: see `CxxNames`).
  static func readable(_ name: String) -> String? {
    guard isMangled(name) else { return nil }
    if let simplified = backtraceDemangle(name) {
      if name.hasPrefix("_Z") { return inheritingConstructorFixed(simplified, mangled: name) }
      return mergedMarked(topLevelContextNamed(simplified, mangled: name), mangled: name)
    }
    if name.hasPrefix("_Z"), let cxx = cxxDemangle(name) {
      return inheritingConstructorFixed(cxx, mangled: name)
    }
    if let swift = swiftFullDemangle(name) { return swift }
    return nil
  }

  /// `simplified` marked `merged ` when the mangled name is a merged
  /// function's (suffix `Tm`: LLVM's MergeFunctions folded functions with
  /// identical bodies into this one, so its frames stand for any of them;
  /// `withIRQsDisabled`'s may read `withSoftIRQ`). The simplified form
  /// leaves the mark out; the full one, and llvm-symbolizer, keep it.
  static func mergedMarked(_ simplified: String, mangled: String) -> String {
    guard mangled.hasSuffix("Tm"), !simplified.hasPrefix("merged "),
      swiftFullDemangle(mangled)?.hasPrefix("merged ") == true
    else { return simplified }
    return "merged " + simplified
  }

  /// `simplified` with the module named after a trailing ` in `: the
  /// simplified form leaves out module names, so a closure in top-level
  /// code (`main.swift`) reads `closure #2 in ` (as `swift demangle
  /// --simplified` prints it); its context is the module,
  /// `closure #2 in server`, as the full form says.
  static func topLevelContextNamed(_ simplified: String, mangled: String) -> String {
    guard simplified.hasSuffix(" in "), let module = swiftModule(of: mangled) else {
      return simplified
    }
    return simplified + module
  }

  /// The module a Swift mangled name starts with (`$s6server...` gives
  /// `server`, `$ss...` `Swift`); nil when it does not start with one.
  static func swiftModule(of mangled: String) -> String? {
    var rest = Substring(mangled)
    for prefix in ["_$s", "$s", "_$S", "$S"] where rest.hasPrefix(prefix) {
      rest = rest.dropFirst(prefix.count)
      break
    }
    if rest.first == "s" { return "Swift" }
    let digits = rest.prefix { $0.isASCII && $0.isNumber }
    guard let count = Int(digits), count > 0 else { return nil }
    let identifier = rest.dropFirst(digits.count).prefix(count)
    return identifier.count == count ? String(identifier) : nil
  }

  /// A symbol's compiler clone suffixes as c++filt prints them:
  /// `_Z…S1_.constprop.0.isra.0` gives ` [clone .constprop.0] [clone .isra.0]`;
  /// empty when the name has none.
  static func cloneSuffix(of linkage: String) -> String {
    guard let dot = linkage.firstIndex(of: ".") else { return "" }
    var clones: [String] = []
    for part in linkage[linkage.index(after: dot)...].split(separator: ".") {
      if part.allSatisfy(\.isNumber), !clones.isEmpty {
        clones[clones.count - 1] += "." + part
      } else {
        clones.append("." + part)
      }
    }
    return clones.map { " [clone \($0)]" }.joined()
  }

  /// `demangled` with an inheriting constructor named after its class.
  ///
  /// libiberty prints `_ZN3errCI2St13runtime_errorEPKc` (the constructor
  /// `err` inherits with `using std::runtime_error::runtime_error`) as
  /// `err::runtime_error(char const*)`, naming it after the base class;
  /// llvm-symbolizer (and the C++ ABI) name it `err::err(char const*)`.
  static func inheritingConstructorFixed(_ demangled: String, mangled: String) -> String {
    guard mangled.contains("CI1") || mangled.contains("CI2") || mangled.contains("CI4") else {
      return demangled
    }
    // The function name is the last top-level component before the
    // parameter list; the class is the one before it.
    let characters = Array(demangled)
    var depth = 0
    var parameters: Int?
    var separators: [Int] = []
    for (index, character) in characters.enumerated() {
      switch character {
      case "<": depth += 1
      case "(" where depth > 0: depth += 1
      case "(": parameters = index
      case ">", ")": depth -= 1
      case ":" where depth == 0 && index + 1 < characters.count && characters[index + 1] == ":":
        separators.append(index)
      default: break
      }
      if parameters != nil { break }
    }
    guard let parameters, separators.count >= 1 else { return demangled }
    let nameStart = separators[separators.count - 1] + 2
    let classStart = separators.count >= 2 ? separators[separators.count - 2] + 2 : 0
    var className = String(characters[classStart..<separators[separators.count - 1]])
    if let open = className.firstIndex(of: "<") { className = String(className[..<open]) }
    let name = String(characters[nameStart..<parameters])
    guard !className.isEmpty, name != className else { return demangled }
    return String(characters[..<nameStart]) + className + String(characters[parameters...])
  }

  /// True when `name` looks like a Swift or Itanium C++ mangled name.
  public static func isMangled(_ name: String) -> Bool {
    name.hasPrefix("$s") || name.hasPrefix("_$s") || name.hasPrefix("$S") || name.hasPrefix("_$S")
      || name.hasPrefix("_T0") || name.hasPrefix("$e") || name.hasPrefix("_Z")
  }

  /// The Swift runtime backtracer's demangler: simplified Swift names, and
  /// C++ through the C++ runtime. nil when it does not recognise the name.
  static func backtraceDemangle(_ name: String) -> String? {
    demangled(name) { _swift_backtrace_demangle($0, $1, nil, nil) }
  }

  /// The full Swift demangled form (`swift demangle` without `--simplified`).
  static func swiftFullDemangle(_ name: String) -> String? {
    demangled(name) { swift_demangle($0, $1, nil, nil, 0) }
  }

  /// What `demangler` (a C function taking a name and its length, returning
  /// a `malloc`ed C string or NULL) makes of `name`.
  ///
  /// The name is NUL-terminated although its length is passed: for a C++
  /// name the backtracer hands the bytes to `__cxa_demangle`, which reads to
  /// the NUL (without it, bytes past the name turned `~_Vector_base()` into
  /// `~_Vector_base(void, int&&)` and `.cold` into `.cold1`).
  private static func demangled(
    _ name: String, by demangler: (UnsafePointer<CChar>, Int) -> UnsafeMutablePointer<CChar>?
  ) -> String? {
    name.withCString { chars in
      guard let result = demangler(chars, strlen(chars)) else { return nil }
      defer { free(result) }
      return String(cString: result)
    }
  }

  /// The Itanium C++ ABI demangler of libstdc++ (what `c++filt` uses).
  static func cxxDemangle(_ name: String) -> String? {
    var status: Int32 = 0
    guard let result = __cxa_demangle(name, nil, nil, &status), status == 0 else { return nil }
    defer { free(result) }
    return String(cString: result)
  }
}
