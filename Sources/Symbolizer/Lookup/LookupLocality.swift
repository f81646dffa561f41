/// Which addresses share index work in a `Symbolizer`: each address's
/// compilation unit (or, in a module without DWARF, its module) as a small
/// number, from `Symbolizer.lookupLocality()`.
///
/// A symbolizer indexes a unit's functions, inlined calls and line rows on
/// the first lookup inside it; to symbolize a stream of addresses on several
/// lanes (`Symbolizer.lane()`), give all the addresses of one key to the
/// same lane, and each lane indexes only its own units.
///
/// Invariant: keys are `0 ..< count`; ranges are sorted by their start and
/// do not overlap (units of one module, modules of one address space).
public struct LookupLocality: Sendable {
  private let ranges: [AddressRange]
  /// The number of distinct keys.
  public let count: Int
  /// The bytes of DWARF unit data (`.debug_info`) behind the keys: the work
  /// that splitting addresses by key divides between lanes grows with it.
  public let unitBytes: Int

  /// `ranges`' `index` fields are the keys; `count` is one more than the
  /// largest.
  init(ranges: [AddressRange], count: Int, unitBytes: Int = 0) {
    self.ranges = ranges.sorted { $0.low < $1.low }
    self.count = count
    self.unitBytes = unitBytes
  }

  /// The key of `address` (as the symbolizer takes it: a runtime address,
  /// or a link-time address of `init(executable:)`), or nil when it lies in
  /// no compilation unit and no module without DWARF.
  public func key(of address: UInt64) -> Int? {
    ranges.index(containing: address)
  }
}
