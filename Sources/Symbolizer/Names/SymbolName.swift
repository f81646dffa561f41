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
/// form was given at creation; once published it never changes. Reading it
/// after that is one atomic load and writes nothing to this object (a lock
/// here would make a thread printing frames and a thread creating them
/// fight over the cache line that also holds the reference count).
public final class SymbolName: Sendable, Hashable, CustomStringConvertible {
  /// The readable form, boxed so that it can be published atomically.
  private final class Readable: Sendable {
    let text: String
    init(_ text: String) { self.text = text }
  }

  /// The mangled (linkage) name, or the plain name of a C function.
  public let linkage: String
  /// The address of a `Readable` this name holds one reference to, or 0
  /// until computed.
  private let published: Atomic<UInt>

  /// A name whose readable form is computed from `linkage` when first asked.
  public init(linkage: String) {
    self.linkage = linkage
    published = Atomic(0)
  }

  /// A name whose readable form is already known.
  public init(linkage: String, readable: String) {
    self.linkage = linkage
    published = Atomic(UInt(bitPattern: Unmanaged.passRetained(Readable(readable)).toOpaque()))
  }

  deinit {
    if let box = UnsafeRawPointer(bitPattern: published.load(ordering: .acquiring)) {
      Unmanaged<Readable>.fromOpaque(box).release()
    }
  }

  /// The demangled name (Swift's simplified form, or what `c++filt` prints),
  /// or `linkage` itself when it is not mangled.
  public var readable: String {
    if let box = UnsafeRawPointer(bitPattern: published.load(ordering: .acquiring)) {
      return Unmanaged<Readable>.fromOpaque(box).takeUnretainedValue().text
    }
    // Two threads may both demangle; the first to publish wins.
    return publish(Demangler.demangle(linkage))
  }

  /// Publishes `computed` as the readable form unless one was published
  /// already; returns the form that is published.
  func publish(_ computed: String) -> String {
    let box = Unmanaged.passRetained(Readable(computed))
    let (exchanged, current) = published.compareExchange(
      expected: 0, desired: UInt(bitPattern: box.toOpaque()), ordering: .acquiringAndReleasing)
    if exchanged { return computed }
    box.release()
    return Unmanaged<Readable>.fromOpaque(UnsafeRawPointer(bitPattern: current)!)
      .takeUnretainedValue().text
  }

  /// The readable form (`readable`).
  public var description: String { readable }

  /// Two names are equal when their linkage and readable forms are.
  public static func == (lhs: SymbolName, rhs: SymbolName) -> Bool {
    lhs === rhs || (lhs.linkage == rhs.linkage && lhs.readable == rhs.readable)
  }

  /// Hashes the linkage name (names equal by `==` have one linkage).
  public func hash(into hasher: inout Hasher) {
    hasher.combine(linkage)
  }
}
