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
    guard isMangled(name) else { return name }
    if let simplified = backtraceDemangle(name) { return simplified }
    if name.hasPrefix("_Z"), let cxx = cxxDemangle(name) { return cxx }
    if let swift = swiftFullDemangle(name) { return swift }
    return name
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
