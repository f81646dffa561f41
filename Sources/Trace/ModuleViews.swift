import Basics

/// A trace's `module` lines in order, and which of them each stack's
/// addresses are of, where a later line replaces an earlier one: a library
/// unloaded (`dlclose`) and another, or the same one again, mapped where
/// it was is a later line overlapping the earlier one's range.
///
/// A stack's addresses are of the lines in force when it was declared (a
/// recorder writes the mappings that changed before the stack that
/// follows). An address no earlier line holds is of the lines as they are
/// at the end (a trace may declare its modules after its stacks). Each
/// lookup is a binary search: of the lines in force for a stack declared
/// after a line was replaced (kept with the stack), of those just before
/// the first replacement for one declared before it. A line overlapped by a later one is
/// *replaced*: its frames are looked up at a range of its own, far above
/// every user-space address (`symbolizerModules`, `lookupAddress`), so
/// that one symbolizer of every line names each stack from its own.
///
/// Past `maxTrackedLines` lines (a hostile trace: a process maps a few
/// hundred objects), replacement is no longer followed: later lines are
/// kept as declared, each distinct one once, and lookups are as if no
/// line had been replaced (keeping `active` sorted costs a move of the
/// array a line in random order: 200,000 lines took 19 s).
///
/// Invariants, while followed: `active` is sorted by start, its ranges
/// are disjoint, and it holds exactly the lines not replaced whose range
/// is not empty; `activeByRecord` maps each of their records to its line.
struct ModuleViews: Sendable {
  /// Every line kept, in trace order.
  private(set) var lines: [ModuleRecord] = []
  /// Whether each line of `lines` was replaced by a later one.
  private var replaced: [Bool] = []
  /// The lines in force, by start.
  private var active: [(start: UInt64, end: UInt64, line: Int32)] = []
  /// `active` just before the first line was replaced: every line until
  /// then, by start (a stack declared before it is looked up there).
  private var beforeReplacement: [(start: UInt64, end: UInt64, line: Int32)]?
  /// The line in force of each record in force.
  private var activeByRecord: [ModuleRecord: Int32] = [:]
  /// The first line of each record (a file mapped again where it was is
  /// looked up at one relocated range, however often it was replaced).
  private var firstOfRecord: [ModuleRecord: Int32] = [:]
  /// `firstOfRecord` of each line's record, by line (no hashing of a
  /// record per lookup).
  private var recordOfLine: [Int32] = []
  /// How many lines were replaced.
  private var replacedCount = 0
  /// Whether replacement is followed (`maxTrackedLines`).
  private var follows = true
  /// Lines past which replacement is no longer followed.
  static let maxTrackedLines = 8_192

  /// How many lines were replaced, while replacement is followed (0
  /// after: lookups are then as if none was).
  var replacements: Int { follows ? replacedCount : 0 }

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
  mutating func add(_ line: ModuleRecord, buildIDMayBeLate: Bool = false) -> Bool {
    if !follows || lines.count >= Self.maxTrackedLines {
      follows = false
      guard firstOfRecord[line] == nil else { return false }
      firstOfRecord[line] = Int32(lines.count)
      recordOfLine.append(Int32(lines.count))
      lines.append(line)
      replaced.append(false)
      return true
    }
    if activeByRecord[line] != nil || (line.start >= line.end && firstOfRecord[line] != nil) {
      return false
    }
    // A live process's mapping read once without its build-id (a `dlopen`
    // that finished between the loader's list and the maps being read) is
    // the same line, not one replacing it. (In a trace, a line that
    // differs in its build-id is another line.)
    let here = buildIDMayBeLate ? Self.line(holding: line.start &+ 1, in: active) : -1
    if here >= 0 {
      let known = lines[Int(here)]
      if known.start == line.start, known.end == line.end, known.fileOffset == line.fileOffset,
        known.path == line.path, known.buildID == nil || line.buildID == nil
      {
        return false
      }
    }
    let index = Int32(lines.count)
    lines.append(line)
    replaced.append(false)
    if firstOfRecord[line] == nil { firstOfRecord[line] = index }
    recordOfLine.append(firstOfRecord[line] ?? index)
    guard line.start < line.end else { return true }
    // The first line in force ending past the new start, and the first
    // starting at or past its end: those between overlap it.
    let low = Self.firstIndex(in: active) { $0.end > line.start }
    let high = Self.firstIndex(in: active) { $0.start >= line.end }
    if low < high {
      if beforeReplacement == nil { beforeReplacement = active }
      for entry in active[low..<high] {
        replaced[Int(entry.line)] = true
        activeByRecord[lines[Int(entry.line)]] = nil
        replacedCount += 1
      }
    }
    active.replaceSubrange(low..<max(low, high), with: [(line.start, line.end, index)])
    activeByRecord[line] = index
    return true
  }

  /// The first index of `table` for which `isPast` holds (it holds for a
  /// suffix: `active`'s starts and ends rise together).
  private static func firstIndex(
    in table: [(start: UInt64, end: UInt64, line: Int32)],
    where isPast: ((start: UInt64, end: UInt64, line: Int32)) -> Bool
  ) -> Int {
    var low = 0
    var high = table.count
    while low < high {
      let mid = (low + high) / 2
      if isPast(table[mid]) { high = mid } else { low = mid + 1 }
    }
    return low
  }

  /// The line each of `addresses` (return addresses: the byte before
  /// each) is of for a stack declared now: the line in force holding it,
  /// or -1.
  func linesNow(_ addresses: [UInt64]) -> [Int32] {
    addresses.map(lineInForce(holding:))
  }

  /// The line in force holding return address `address`, or -1.
  func lineInForce(holding address: UInt64) -> Int32 {
    Self.line(holding: address, in: active)
  }

  /// The line each of `addresses` is of for a stack declared after
  /// `count` lines, before any line was replaced: the line holding it
  /// among those, or -1 (an address no line before the stack holds is
  /// looked up where it is).
  func linesBeforeReplacement(_ addresses: [UInt64], before count: Int) -> [Int32] {
    let table = beforeReplacement ?? active
    return addresses.map {
      let line = Self.line(holding: $0, in: table)
      return line < count ? line : -1
    }
  }

  /// The line of `table` (sorted, disjoint) holding return address
  /// `address`, or -1.
  private static func line(
    holding address: UInt64, in table: [(start: UInt64, end: UInt64, line: Int32)]
  ) -> Int32 {
    guard address != 0 else { return -1 }
    let byte = address &- 1
    let after = firstIndex(in: table) { $0.start > byte }
    guard after > 0, byte < table[after - 1].end else { return -1 }
    return table[after - 1].line
  }

  /// The record each of `lines` is of (by its first line; -1: none): two
  /// stacks of the same addresses are one only when these agree.
  func records(of lines: [Int32]) -> [Int32] {
    lines.map { $0 < 0 ? -1 : recordOfLine[Int($0)] }
  }

  /// Where return address `address`, of line `line` (-1: none), is looked
  /// up in `symbolizerModules`: where it is, unless its line was replaced
  /// and its record is not in force again (then at its record's relocated
  /// range).
  func lookupAddress(_ address: UInt64, line: Int32) -> UInt64 {
    guard replacements > 0, line >= 0, replaced[Int(line)] else { return address }
    let record = lines[Int(line)]
    guard activeByRecord[record] == nil, let first = firstOfRecord[record],
      let start = Self.relocatedStart(of: record, line: Int(first))
    else { return address }
    return address &- record.start &+ start
  }

  /// The start of the relocated range of `record`, the first of its
  /// record at `line`; nil past `maxRelocated`, and for a range that does
  /// not fit its place (larger than the stride less its kept low bits: a
  /// hostile trace's `0x1000-0xffffffffffffffff` wrapped past 2^64 and
  /// crashed the symbolizer): such a line is looked up where it is.
  private static func relocatedStart(of record: ModuleRecord, line: Int) -> UInt64? {
    guard line < maxRelocated, record.start < record.end,
      record.end - record.start <= relocationStride - (record.start & keptBits)
    else { return nil }
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
