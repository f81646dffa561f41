/// Splits a stream of addresses between the lanes of a symbolizer (see
/// `Symbolizer.lane()`) so that every address of one `LookupLocality` key
/// goes to the same lane, which alone then indexes that compilation unit.
///
/// A key is given, when first met, to the lane given the fewest addresses
/// so far; an address with no key (outside every unit) goes to that lane
/// too. The split depends only on the addresses, in order.
///
/// Invariant: `lanes[key]` is -1 until the key is met, then a lane below
/// `laneCount` for good; `loads[lane]` counts the addresses given to it.
public struct LaneRouter: Sendable {
  /// The number of lanes addresses are split between (at least 1).
  public let laneCount: Int
  private let locality: LookupLocality
  private var lanes: [Int8]
  private var loads: [Int]

  /// A router over `laneCount` lanes (1 to 127) by `locality`'s keys.
  public init(locality: LookupLocality, laneCount: Int) {
    precondition(laneCount >= 1 && laneCount <= Int(Int8.max), "LaneRouter: 1 to 127 lanes")
    self.laneCount = laneCount
    self.locality = locality
    lanes = Array(repeating: -1, count: locality.count)
    loads = Array(repeating: 0, count: laneCount)
  }

  /// The lane for `address` (`0 ..< laneCount`).
  public mutating func lane(of address: UInt64) -> Int {
    var lane: Int
    if let key = locality.key(of: address) {
      lane = Int(lanes[key])
      if lane < 0 {
        lane = leastLoaded()
        lanes[key] = Int8(lane)
      }
    } else {
      lane = leastLoaded()
    }
    loads[lane] += 1
    return lane
  }

  /// The lane given the fewest addresses so far (the first of equals).
  private func leastLoaded() -> Int {
    var best = 0
    for lane in 1..<laneCount where loads[lane] < loads[best] { best = lane }
    return best
  }
}
