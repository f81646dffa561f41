/// A directory over the sorted start addresses of a large table (a module's
/// compilation-unit ranges, its symbols), so that finding how many starts
/// lie at or below an address reads one directory entry and binary-searches
/// only the few starts of that address's bucket.
///
/// A plain binary search over thousands of entries touches a dozen cache
/// lines far apart for every address; the symbolizer makes two such
/// searches per address, and on random addresses they were a tenth of its
/// time. Buckets are `2^shift` addresses wide, `shift` chosen so that there
/// are about as many buckets as starts (at most 2^20 buckets).
///
/// Invariants: `firsts[b]` is the number of starts below
/// `base + b << shift`, for `b` in `0 ... bucketCount`, with
/// `firsts[bucketCount] == count`; starts at or above `base + bucketCount
/// << shift` do not exist (the last start is in the last bucket).
struct StartDirectory {
  private var base: UInt64 = 0
  private var shift: UInt64 = 0
  private var firsts: [UInt32] = [0]
  private(set) var count = 0

  /// A directory over no starts.
  init() {}

  /// A directory over `count` ascending starts, `start(i)` being the i-th.
  init(count: Int, start: (Int) -> UInt64) {
    guard count > 0, count < Int(UInt32.max) else {
      self.count = 0
      return
    }
    self.count = count
    base = start(0)
    let span = start(count - 1) - base
    var shift: UInt64 = 0
    while (span >> shift) >= UInt64(count) || (span >> shift) >= 1 << 20 {
      shift += 1
    }
    self.shift = shift
    let bucketCount = Int(span >> shift) + 1
    firsts = [UInt32](repeating: 0, count: bucketCount + 1)
    var next = 0
    for bucket in 0...bucketCount {
      let bucketStart = base &+ (UInt64(bucket) << shift)
      while next < count, bucket == bucketCount || start(next) < bucketStart { next += 1 }
      firsts[bucket] = UInt32(next)
    }
  }

  /// The range of indexes whose starts share `address`'s bucket; every
  /// start before it is at or below `address`, every one after it above.
  /// Empty at the position of `address` when it is outside the buckets.
  @inline(__always)
  func candidates(for address: UInt64) -> Range<Int> {
    guard count > 0, address >= base else { return 0..<0 }
    let bucket = (address &- base) >> shift
    guard bucket < UInt64(firsts.count - 1) else { return count..<count }
    return firsts.withUnsafeBufferPointer {
      Int($0[Int(bucket)])..<Int($0[Int(bucket) + 1])
    }
  }
}

extension UnsafeBufferPointer {
  /// `prefixCount(where:)` for a buffer sorted by the starts `directory`
  /// was built over: the search runs only inside `address`'s bucket.
  /// `isInPrefix` must be "start at or below `address`".
  @inline(__always)
  func prefixCount(
    in directory: StartDirectory, for address: UInt64, where isInPrefix: (Element) -> Bool
  ) -> Int {
    let slice = directory.candidates(for: address)
    guard !slice.isEmpty else { return slice.lowerBound }
    let bucket = UnsafeBufferPointer(rebasing: self[slice])
    return slice.lowerBound + bucket.prefixCount(where: isInPrefix)
  }
}
