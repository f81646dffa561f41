import Basics

/// A trace's `module` lines in order, and which of them each stack's
/// addresses are of, where a later line replaces an earlier one: a library
/// unloaded (`dlclose`) and another, or the same one again, mapped where
/// it was is a later line overlapping the earlier one's range.
///
/// A stack's addresses are of the lines declared before it (a recorder
/// writes the mappings that changed before the stack that follows): of
/// those holding an address, the last one. An address no earlier line
/// holds is of the lines as they are at the end (a trace may declare its
/// modules after its stacks). A line overlapped by a later one is
/// *replaced*: its frames are looked up at a range of its own, far above
/// every user-space address (`symbolizerModules`, `lookupAddress`), so
/// that one symbolizer of every line names each stack from its own.
///
/// Invariants: `active` is sorted by start, its ranges are disjoint, and
/// it holds exactly the lines not replaced whose range is not empty;
/// `activeByRecord` maps each of their records to its line.
struct ModuleViews: Sendable {
  /// Every line kept, in trace order.
  private(set) var lines: [ModuleRecord] = []
  /// Whether each line of `lines` was replaced by a later one.
  private var replaced: [Bool] = []
  /// The lines in force, by start.
  private var active: [(start: UInt64, end: UInt64, line: Int32)] = []
  /// The line in force of each record in force.
  private var activeByRecord: [ModuleRecord: Int32] = [:]
  /// The first line of each record (a file mapped again where it was is
  /// looked up at one relocated range, however often it was replaced).
  private var firstOfRecord: [ModuleRecord: Int32] = [:]
  /// How many lines were replaced.
  private(set) var replacements = 0

  /// Where relocated ranges start: above every user-space address (47 or
  /// 56 bits), each line's 16 TiB apart, keeping the low 40 bits of its
  /// start (its alignment).
  static let relocationBase: UInt64 = 1 << 62
  static let relocationStride: UInt64 = 1 << 44
  static let keptBits: UInt64 = (1 << 40) - 1
  /// Lines past this many are not relocated (their relocated range would
  /// pass 2^63): they are looked up where they are.
  static let maxRelocated = 1 << 18

  /// Adds a line; false when the same line is in force already (a recorder
  /// writes every mapping again when one changes: the others say nothing
  /// new). Lines in force that it overlaps are replaced.
  @discardableResult
  mutating func add(_ line: ModuleRecord) -> Bool {
    if activeByRecord[line] != nil || (line.start >= line.end && firstOfRecord[line] != nil) {
      return false
    }
    let index = Int32(lines.count)
    lines.append(line)
    replaced.append(false)
    if firstOfRecord[line] == nil { firstOfRecord[line] = index }
    guard line.start < line.end else { return true }
    // The first line in force ending past the new start, and the first
    // starting at or past its end: those between overlap it.
    let low = firstIndex { $0.end > line.start }
    let high = firstIndex { $0.start >= line.end }
    if low < high {
      for entry in active[low..<high] {
        replaced[Int(entry.line)] = true
        activeByRecord[lines[Int(entry.line)]] = nil
        replacements += 1
      }
    }
    active.replaceSubrange(low..<max(low, high), with: [(line.start, line.end, index)])
    activeByRecord[line] = index
    return true
  }

  /// The first index of `active` for which `isPast` holds (it holds for
  /// a suffix: starts and ends rise together).
  private func firstIndex(
    where isPast: ((start: UInt64, end: UInt64, line: Int32)) -> Bool
  ) -> Int {
    var low = 0
    var high = active.count
    while low < high {
      let mid = (low + high) / 2
      if isPast(active[mid]) { high = mid } else { low = mid + 1 }
    }
    return low
  }

  /// The last of the first `count` lines holding return address `address`
  /// (the byte before it, as symbolizers look it up); nil when none does.
  func line(holding address: UInt64, before count: Int) -> Int? {
    guard address != 0 else { return nil }
    let byte = address &- 1
    var i = min(count, lines.count) - 1
    while i >= 0 {
      if lines[i].start <= byte && byte < lines[i].end { return i }
      i -= 1
    }
    return nil
  }

  /// The record each of `addresses` is of, for a stack declared after
  /// `count` lines (by its first line; -1: none), when lines were
  /// replaced; two stacks of the same addresses are one only when these
  /// agree.
  func records(of addresses: [UInt64], before count: Int) -> [Int32] {
    addresses.map { address in
      line(holding: address, before: count).map { firstOfRecord[lines[$0]] ?? Int32($0) } ?? -1
    }
  }

  /// Where return address `address` of a stack declared after `count`
  /// lines is looked up in `symbolizerModules`: where it is, unless its
  /// line was replaced by another (then at its record's relocated range).
  func lookupAddress(_ address: UInt64, before count: Int) -> UInt64 {
    guard replacements > 0, let i = line(holding: address, before: count), replaced[i] else {
      return address
    }
    let record = lines[i]
    guard activeByRecord[record] == nil, let first = firstOfRecord[record],
      let start = Self.relocatedStart(of: record, line: Int(first))
    else { return address }
    return address &- record.start &+ start
  }

  /// The start of the relocated range of `record`, the first of its
  /// record at `line`; nil past `maxRelocated`.
  private static func relocatedStart(of record: ModuleRecord, line: Int) -> UInt64? {
    guard line < maxRelocated else { return nil }
    return relocationBase + UInt64(line) * relocationStride + (record.start & keptBits)
  }

  /// The lines a symbolizer is made of: those in force where they are, and
  /// each replaced record not in force again, once, at its relocated
  /// range.
  var symbolizerModules: [ModuleRecord] {
    guard replacements > 0 else { return lines }
    var result: [ModuleRecord] = []
    for (i, line) in lines.enumerated() {
      if !replaced[i] {
        result.append(line)
      } else if activeByRecord[line] == nil, firstOfRecord[line] == Int32(i),
        let start = Self.relocatedStart(of: line, line: i)
      {
        var moved = line
        moved.start = start
        moved.end = start &+ (line.end &- line.start)
        result.append(moved)
      }
    }
    return result
  }
}
