/// Chain keys: a 64-bit hash of the classes and read modes held in one
/// interrupt-context segment (lockdep's `iterate_chain_key()` over
/// `hlock_id()`). Equal keys mean the same sequence was validated before.
@usableFromInline
enum ChainKey {
  /// The key of an empty segment in interrupt context `irqContext`; the
  /// context is mixed in so a chain taken in an interrupt is not mistaken
  /// for the same chain in task context.
  @inlinable
  static func initial(irqContext: UInt8) -> UInt64 {
    mix(0x6c6f_636b_6465_7021 ^ UInt64(irqContext))
  }

  @inlinable
  static func iterate(_ key: UInt64, lockClass: ClassID, read: ReadMode) -> UInt64 {
    let id = UInt64(UInt32(bitPattern: lockClass.raw)) | UInt64(read.rawValue) << 32
    return step(key ^ id &* 0x9E37_79B9_7F4A_7C15)
  }

  /// One step of the chain: a bijection of 64-bit values (an odd multiply,
  /// then an xor-shift), so two chains that differ in their last lock
  /// never share a key, and the earlier key's every bit reaches the high
  /// bits that the shift folds into the low ones (the cache's index). One
  /// multiply: the acquisition's cache lookup waits on this.
  @inlinable
  static func step(_ x: UInt64) -> UInt64 {
    let k = x &* 0xbf58_476d_1ce4_e5b9
    return k ^ k >> 31
  }

  /// The finalizer of MurmurHash3 (fmix64): every input bit affects every
  /// output bit.
  @inlinable
  static func mix(_ x: UInt64) -> UInt64 {
    var k = x
    k ^= k >> 33
    k &*= 0xff51_afd7_ed55_8ccd
    k ^= k >> 33
    k &*= 0xc4ce_b9fe_1a85_ec53
    k ^= k >> 33
    return k
  }
}
