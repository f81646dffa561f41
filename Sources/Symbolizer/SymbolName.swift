import Synchronization

/// A function's linkage name and its readable form, demangled on first use.
///
/// The symbolizer creates one instance per distinct name of a module and
/// shares it between every frame that names that function, so a frame copy
/// costs a retain, and a name that is never printed is never demangled
/// (demangling a Swift name costs microseconds; most symbolized addresses
/// are only compared or cached).
///
/// Invariant: `readable` is `Demangler.demangle(linkage)` unless a readable
/// form was given at creation; once computed it never changes.
public final class SymbolName: Sendable, Hashable, CustomStringConvertible {
  /// The mangled (linkage) name, or the plain name of a C function.
  public let linkage: String
  private let demangled: Mutex<String?>

  /// A name whose readable form is computed from `linkage` when first asked.
  public init(linkage: String) {
    self.linkage = linkage
    demangled = Mutex(nil)
  }

  /// A name whose readable form is already known.
  public init(linkage: String, readable: String) {
    self.linkage = linkage
    demangled = Mutex(readable)
  }

  /// The demangled name (Swift's simplified form, or what `c++filt` prints),
  /// or `linkage` itself when it is not mangled.
  public var readable: String {
    demangled.withLock { cached in
      if let cached { return cached }
      let computed = Demangler.demangle(linkage)
      cached = computed
      return computed
    }
  }

  public var description: String { readable }

  public static func == (lhs: SymbolName, rhs: SymbolName) -> Bool {
    lhs === rhs || (lhs.linkage == rhs.linkage && lhs.readable == rhs.readable)
  }

  public func hash(into hasher: inout Hasher) {
    hasher.combine(linkage)
  }
}
