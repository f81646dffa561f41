/// The wait types and lock type of one lock class, resolved from its kind
/// and the declaration's overrides.
public struct ClassWaitTypes: Sendable, Hashable {
  /// The context this lock creates for what nests inside it.
  public var inner: WaitType
  /// What this lock needs from its caller; nil means the same as `inner`.
  public var outer: WaitType?
  /// How the class's locks take part in the checks (normal, per-CPU or a
  /// wait-type override).
  public var lockType: LockType

  /// The wait types `inner` and `outer` (nil: the same as `inner`) and the
  /// lock type `lockType` of a class.
  public init(inner: WaitType, outer: WaitType? = nil, lockType: LockType = .normal) {
    self.inner = inner
    self.outer = outer
    self.lockType = lockType
  }

  /// The outer wait type with "unset" resolved, as lockdep prints and checks it.
  public var effectiveOuter: WaitType { outer ?? inner }

  /// Why a class declaration cannot be resolved.
  public enum ResolutionError: Error, Equatable, Sendable {
    /// `custom` and `wait_override` have no inner type of their own.
    case innerRequired(LockKind)
    /// A kind with a fixed lock type was given another `type=`.
    case lockTypeFixed(LockKind)
  }

  /// Resolves a declaration: the kind's row, then `inner=`, `outer=`, `type=`.
  public init(
    kind: LockKind, inner: WaitType? = nil, outer: WaitType? = nil, lockType: LockType? = nil
  ) throws(ResolutionError) {
    let row = kind.row
    guard let resolvedInner = inner ?? row.inner else { throw .innerRequired(kind) }
    if let fixed = row.lockType, let given = lockType, given != fixed {
      throw .lockTypeFixed(kind)
    }
    self.inner = resolvedInner
    // An explicit inner= with the kind's default outer: keep the default
    // outer only where the kind has one distinct from its inner (RCU).
    self.outer = outer ?? row.outer
    self.lockType = lockType ?? row.lockType ?? .normal
  }
}
