/// splitmix64: a small, fast, seedable random number generator, for
/// synthetic traces, benchmarks and randomized tests that must reproduce
/// from a seed.
public struct SplitMix: RandomNumberGenerator, Sendable {
  /// The generator's state; each call to `next()` advances it.
  public var state: UInt64

  /// A generator started from `seed`.
  public init(seed: UInt64) { state = seed }

  /// The next 64 random bits.
  public mutating func next() -> UInt64 {
    state &+= 0x9E37_79B9_7F4A_7C15
    var z = state
    z = (z ^ (z >> 30)) &* 0xBF58_476D_1CE4_E5B9
    z = (z ^ (z >> 27)) &* 0x94D0_49BB_1331_11EB
    return z ^ (z >> 31)
  }
}
