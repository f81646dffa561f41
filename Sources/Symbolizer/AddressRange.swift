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
      var low = 0
      var high = ranges.count
      while low < high {
        let mid = (low + high) / 2
        if ranges[mid].low <= address { low = mid + 1 } else { high = mid }
      }
      var candidate = low - 1
      while candidate >= 0, low - candidate <= 8 {
        if address < ranges[candidate].high { return ranges[candidate].index }
        candidate -= 1
      }
      return nil
    }
  }
}
