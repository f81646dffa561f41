/// A half-open address range `[low, high)` that stands for something
/// (a module slot, a compilation unit, a function), by `index`.
///
/// The symbolizer's tables (module mappings, CU ranges, subprogram ranges)
/// are arrays of these sorted by `low`, searched with `index(containing:)`.
struct AddressRange {
  var low: UInt64
  var high: UInt64
  var index: Int
}

extension Array where Element == AddressRange {
  /// The `index` of the range containing `address`, in an array sorted by
  /// `low`: a binary search for the last range starting at or below it, then
  /// a short look back, which tolerates a few nested or overlapping ranges
  /// (a closure's function inside its parent's, a mapping split in two).
  /// Among ranges with the same `low`, the one later in the array wins.
  func index(containing address: UInt64) -> Int? {
    withUnsafeBufferPointer { ranges in
      ranges.index(containing: address, below: ranges.prefixCount(where: { $0.low <= address }))
    }
  }

  /// `index(containing:)` with the search narrowed by `directory`, built
  /// over these ranges' `low`s.
  func index(containing address: UInt64, in directory: StartDirectory) -> Int? {
    withUnsafeBufferPointer { ranges in
      ranges.index(
        containing: address,
        below: ranges.prefixCount(in: directory, for: address, where: { $0.low <= address }))
    }
  }
}

extension UnsafeBufferPointer where Element == AddressRange {
  /// The `index` of a range containing `address` among the (up to 8) last
  /// of the first `low` ranges, those starting at or below it.
  @inline(__always)
  fileprivate func index(containing address: UInt64, below low: Int) -> Int? {
    var candidate = low - 1
    while candidate >= 0, low - candidate <= 8 {
      if address < self[candidate].high { return self[candidate].index }
      candidate -= 1
    }
    return nil
  }
}

extension UnsafeBufferPointer {
  /// The number of leading elements that satisfy `isInPrefix`, which must
  /// hold for a prefix of the buffer and for nothing after it: a binary
  /// search that halves the candidates each step, one comparison per step.
  @inline(__always)
  func prefixCount(where isInPrefix: (Element) -> Bool) -> Int {
    var remaining = count
    guard remaining > 0 else { return 0 }
    var base = 0
    while remaining > 1 {
      let half = remaining / 2
      if isInPrefix(self[base + half]) { base += half }
      remaining -= half
    }
    return base + (isInPrefix(self[base]) ? 1 : 0)
  }
}
