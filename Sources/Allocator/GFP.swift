/// Allocation flags: what the caller of an allocation allows it to do (the
/// kernel's `gfp_t`, the bits this allocator acts on).
///
/// Only two bits change what happens here. `directReclaim` says the caller
/// may sleep: the allocation checks that with `mightSleep()` and, when the
/// zone is exhausted, reclaims (drains every per-CPU list) and retries once.
/// `noLocks` says the caller may take no spin lock that it could have to
/// wait for: only the per-CPU list is used, through its trylock. `high` and
/// `kswapdReclaim` are kept so that `atomic` and `nowait` are the kernel's
/// distinct masks; this allocator has no watermark reserves and no kswapd, so
/// they change nothing.
public struct GFP: OptionSet, Sendable, Hashable {
  /// The flag bits.
  public let rawValue: UInt32

  /// Flags from their bits.
  public init(rawValue: UInt32) { self.rawValue = rawValue }

  /// `__GFP_DIRECT_RECLAIM`: the caller may sleep, so the allocation may
  /// reclaim memory itself before failing.
  public static let directReclaim = GFP(rawValue: 1 << 0)
  /// `__GFP_NO_LOCKS` (the 2020 RFC for kvfree_rcu()): never take the zone
  /// lock; order-0 pages come from the per-CPU list only, and nothing else.
  public static let noLocks = GFP(rawValue: 1 << 1)
  /// `__GFP_HIGH`: the caller is high priority (no reserves here: no effect).
  public static let high = GFP(rawValue: 1 << 2)
  /// `__GFP_KSWAPD_RECLAIM`: wake background reclaim (no kswapd here: no effect).
  public static let kswapdReclaim = GFP(rawValue: 1 << 3)

  /// `GFP_KERNEL`: may sleep, may reclaim.
  public static let kernel: GFP = [.directReclaim]
  /// `GFP_ATOMIC` (`__GFP_HIGH | __GFP_KSWAPD_RECLAIM`): does not sleep,
  /// takes the zone lock when the per-CPU list is empty.
  public static let atomic: GFP = [.high, .kswapdReclaim]
  /// `GFP_NOWAIT` (`__GFP_KSWAPD_RECLAIM`): does not sleep, takes the zone
  /// lock when the per-CPU list is empty.
  public static let nowait: GFP = [.kswapdReclaim]

  /// Whether the caller may sleep (`gfpflags_allow_blocking()`).
  public var allowsBlocking: Bool { contains(.directReclaim) }
}
