/// The wait types and lock type of one lock class, resolved from its kind
/// and the declaration's overrides.
public struct ClassWaitTypes: Sendable, Hashable {
  /// The context this lock creates for what nests inside it.
  public var inner: WaitType
  /// What this lock needs from its caller; nil (or `inv`) means the same
  /// as `inner`.
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

  /// The outer wait type with "unset" resolved, as lockdep prints and
  /// checks it. An outer of `inv` is unset: lockdep's maps hold 0 there
  /// (`lockdep_init_map_wait()` passes `LD_WAIT_INV` for every ordinary
  /// lock), which `check_wait_context()` reads as the inner
  /// (`if (!next_outer) next_outer = next_inner;`) and `print_lock_name()`
  /// prints as it (`wait_type_outer ?: wait_type_inner`).
  public var effectiveOuter: WaitType {
    if let outer, outer != .inv { return outer }
    return inner
  }

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
