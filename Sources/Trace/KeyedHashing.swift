/// The keyed hash a table turns to when its fast, unkeyed hash lets a
/// trace pile its keys onto one run of slots.
///
/// A trace is input the validator does not choose: its class and thread
/// tokens, its stacks and its class pairs are the keys of hash tables
/// whose fast hashes are public, so a trace can be made whose keys all
/// hash alike, and each lookup then probes all of them (quadratic time:
/// tens of seconds for a few megabytes). A table counts the slots an
/// insertion probes, and past `probeLimit` hashes every key again with
/// `Hasher` (SipHash, keyed at random per process), as Rust's and
/// Python's tables hash input. An ordinary trace never gets there (a
/// table at most three quarters full probes a few slots), so its lookups
/// keep the fast hash.
enum KeyedHashing {
  /// The slots an insertion may probe before its table turns to the keyed
  /// hash.
  static let probeLimit = 128

  /// The keyed hash of `bytes`.
  static func hash(_ bytes: UnsafeRawBufferPointer) -> UInt64 {
    var hasher = Hasher()
    hasher.combine(bytes: bytes)
    return UInt64(UInt(bitPattern: hasher.finalize()))
  }

  /// The keyed hash of a list of addresses.
  static func hash(_ addresses: [UInt64]) -> UInt64 {
    addresses.withUnsafeBytes { hash($0) }
  }
}
