/// The kernel configuration the checks emulate.
public struct CheckConfiguration: Sendable, Hashable {
  /// `CONFIG_PROVE_RAW_LOCK_NESTING`: `config` is a level of its own. When
  /// off, `config` counts as `spin` (lockdep's `LD_WAIT_CONFIG = LD_WAIT_SPIN`).
  public var proveRawLockNesting: Bool
  /// `CONFIG_PREEMPT_RT`: `spinlock_t` and friends sleep, so they count as
  /// sleeping locks for sleep-in-atomic and no longer make the caller atomic.
  public var preemptRT: Bool

  /// A configuration; the default is lockdep's with
  /// `CONFIG_PROVE_RAW_LOCK_NESTING` on and `CONFIG_PREEMPT_RT` off.
  public init(proveRawLockNesting: Bool = true, preemptRT: Bool = false) {
    self.proveRawLockNesting = proveRawLockNesting
    self.preemptRT = preemptRT
  }

  /// The wait type as this configuration compares and prints it.
  @inlinable
  public func effective(_ wait: WaitType) -> WaitType {
    if !proveRawLockNesting && wait == .config { return .spin }
    return wait
  }

  /// The number lockdep built with this configuration prints for `wait`
  /// (`{outer:inner}`, `context-{n:n}`): its raw value with
  /// PROVE_RAW_LOCK_NESTING; without it `LD_WAIT_CONFIG` is
  /// `LD_WAIT_SPIN` and the levels above it move down by one (sleep 3,
  /// task context 4), as `enum lockdep_wait_type` numbers them.
  @inlinable
  public func number(_ wait: WaitType) -> UInt8 {
    if proveRawLockNesting || wait < .config { return wait.rawValue }
    return wait.rawValue - 1
  }
}
