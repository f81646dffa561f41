/// The wait-context rule of `CONFIG_PROVE_RAW_LOCK_NESTING`
/// (lockdep's `check_wait_context()`), as a pure function.
public enum WaitContextRule {
  /// The verdict for one acquisition.
  public struct Verdict: Sendable, Equatable {
    /// The strictest wait type allowed where the lock is taken.
    public var allowed: WaitType
    /// The acquisition's outer wait type, as compared.
    public var required: WaitType
    /// Whether the acquisition is allowed: its outer wait type is no
    /// greater than what the context allows.
    public var isValid: Bool { required <= allowed }

    /// The verdict for an acquisition needing `required` where `allowed`
    /// is the strictest wait type allowed.
    @inlinable
    public init(allowed: WaitType, required: WaitType) {
      self.allowed = allowed
      self.required = required
    }
  }

  /// The wait type allowed after a sequence of held locks.
  ///
  /// - Parameters:
  ///   - contextLimit: the limit of the current interrupt context
  ///     (`ExecutionContext.waitLimit`).
  ///   - held: the inner wait type and lock type of every lock held in the
  ///     *current interrupt context only*, oldest first. Locks held by the
  ///     code an interrupt interrupted must not be passed.
  /// - Invariant: an `inv` holder changes nothing; an `override` holder
  ///   resets the running value to its own inner; any other lowers it to its
  ///   inner when that is stricter.
  @inlinable
  public static func allowed(
    contextLimit: WaitType, held: some Sequence<(inner: WaitType, lockType: LockType)>,
    configuration: CheckConfiguration
  ) -> WaitType {
    var current = configuration.effective(contextLimit)
    for holder in held {
      current = lower(
        current, holder: holder.inner, lockType: holder.lockType, configuration: configuration)
    }
    return current
  }

  /// One step of `allowed`: the limit after one more held lock.
  @inlinable
  public static func lower(
    _ current: WaitType, holder inner: WaitType, lockType: LockType,
    configuration: CheckConfiguration
  ) -> WaitType {
    if inner == .inv { return current }
    let effective = configuration.effective(inner)
    return lockType == .override ? effective : min(current, effective)
  }

  /// Checks one acquisition. Returns nil when the rule does not apply: a
  /// trylock, or a class whose inner type is `inv`.
  @inlinable
  public static func check(
    acquiring lock: ClassWaitTypes, isTrylock: Bool, allowed: WaitType,
    configuration: CheckConfiguration
  ) -> Verdict? {
    if isTrylock || lock.inner == .inv { return nil }
    return Verdict(allowed: allowed, required: configuration.effective(lock.effectiveOuter))
  }
}
