/// The kinds of one dependency prev -> next, as lockdep's `DEP_*_BIT`:
/// whether prev was held exclusive (E) or shared (S), and whether next was
/// taken as a recursive read (R) or not (N).
///
/// Bit k is set for kind k = (prev exclusive ? 1 : 0) + (next non-recursive ? 2 : 0):
/// SR = 0, ER = 1, SN = 2, EN = 3.
///
/// A path is *strong* when no -(*R)-> edge is followed by a -(S*)-> edge;
/// only strong paths make deadlocks.
public struct DependencyKinds: OptionSet, Sendable, Hashable {
  /// Bit k for kind k (see above).
  public var rawValue: UInt8
  /// The kinds whose bits are set in `rawValue`.
  @inlinable public init(rawValue: UInt8) { self.rawValue = rawValue }

  /// -(SR)->: prev shared, next a recursive read.
  public static let sharedToRecursive = DependencyKinds(rawValue: 1 << 0)
  /// -(ER)->: prev exclusive, next a recursive read.
  public static let exclusiveToRecursive = DependencyKinds(rawValue: 1 << 1)
  /// -(SN)->: prev shared, next not a recursive read.
  public static let sharedToNonRecursive = DependencyKinds(rawValue: 1 << 2)
  /// -(EN)->: prev exclusive, next not a recursive read.
  public static let exclusiveToNonRecursive = DependencyKinds(rawValue: 1 << 3)

  /// -(S*)->: prev was shared.
  static let fromShared: DependencyKinds = [.sharedToRecursive, .sharedToNonRecursive]
  /// -(*N)->: next was not a recursive read.
  static let toNonRecursive: DependencyKinds = [.sharedToNonRecursive, .exclusiveToNonRecursive]

  /// The kind of one dependency (lockdep's `calc_dep()`).
  @inlinable @inline(__always)
  static func of(prev: ReadMode, next: ReadMode) -> DependencyKinds {
    let bit: UInt8 = (prev == .exclusive ? 1 : 0) | (next != .recursive ? 2 : 0)
    return DependencyKinds(rawValue: 1 &<< bit)
  }

  /// The same kinds seen from the other end, for backward searches
  /// (lockdep's `calc_depb()`): swaps the roles of the two bits, so that a
  /// backward search applies the same strong-path rule.
  var reversed: DependencyKinds {
    let r = rawValue
    return DependencyKinds(rawValue: (r & 0b1001) | ((r & 0b0010) << 1) | ((r & 0b0100) >> 1))
  }
}
