import Dispatch
import Symbolizer

/// One lane of `symbolize`: a symbolizer, the serial queue it works on, and
/// its sequence of batches.
///
/// Invariant: `batch` is only touched on `queue` (hence `@unchecked
/// Sendable`), so the lane's batches form one sequence, in chunk order.
final class SymbolizingLane: @unchecked Sendable {
  let index: Int
  private let symbolizer: Symbolizer
  private let queue: DispatchQueue
  private var batch = SymbolizedBatch()
  /// Whether the lane demangles the names its batches deliver.
  private var demangles: Bool

  init(index: Int, symbolizer: Symbolizer, demangles: Bool) {
    self.index = index
    self.demangles = demangles
    self.symbolizer = symbolizer
    queue = DispatchQueue(label: "rawlockcheck.symbolize.lane\(index)")
  }

  /// Makes the lane demangle the names of the chunks given to it after this
  /// call (the writer demangles any name a batch leaves undone).
  func demangleFromNowOn() {
    queue.async { [self] in demangles = true }
  }

  /// Symbolizes `addresses`, this lane's part of `chunk`, on the lane's
  /// queue, and stores the answers in the chunk.
  func symbolize(_ addresses: [UInt64], for chunk: AnswerChunk) {
    chunk.begin()
    queue.async { [self] in
      batch.removeAnswers()
      for address in addresses { symbolizer.symbolize(address, into: &batch) }
      if demangles { batch.demangleNewNames() }
      chunk.finish(lane: index, with: batch)
    }
  }
}

/// Where `symbolize` sends its input, a chunk of addresses at a time: each
/// chunk is split between the lanes by compilation unit (`LaneRouter`), so
/// each lane indexes only its own units, every lane symbolizes its part on
/// its own thread, and the `AnswerWriter` prints the chunk in input order.
///
/// One lane serves until the first full chunk: a short or interactive input
/// does not pay for opening the file's DWARF again. Then, if the DWARF is
/// large enough to be worth splitting (`splitsUnitBytes`), the other lanes
/// are opened (`Symbolizer.lane()`, which reuses inflated DWARF) and every
/// chunk from that one on is routed; otherwise the one lane serves to the
/// end.
///
/// Not thread-safe: the thread that reads the input calls `submit`.
final class SymbolizingLanes {
  /// The addresses of a full chunk.
  static let chunkSize = 256
  /// The least unit data (`.debug_info` bytes) for which more lanes are
  /// opened. A lane costs its own `Dwfl`, unit list and symbol table, and a
  /// thread competing with the writer's; what it takes over (reading units'
  /// DIEs and line programs) grows with the DWARF. Measured on two
  /// processors: a Swift binary with 246 KB of `.debug_info` took 10% longer
  /// on two lanes than on one, libc (8 MB) 10% less.
  static let splitsUnitBytes = 1 << 20

  private let first: Symbolizer
  private let laneCount: Int
  private let writer: AnswerWriter
  private let minimumUnitBytes: Int
  private var lanes: [SymbolizingLane]
  private var router: LaneRouter?
  private var decided = false

  /// Lanes of `symbolizer` (and, from the first full chunk, `laneCount - 1`
  /// more when its DWARF holds at least `minimumUnitBytes` of unit data)
  /// writing through `writer`, which must take `laneCount` lanes.
  init(
    symbolizer: Symbolizer, laneCount: Int, writer: AnswerWriter,
    minimumUnitBytes: Int = SymbolizingLanes.splitsUnitBytes
  ) {
    precondition(laneCount >= 1 && laneCount <= Int(UInt8.max))
    first = symbolizer
    self.laneCount = laneCount
    self.writer = writer
    self.minimumUnitBytes = minimumUnitBytes
    lanes = [SymbolizingLane(index: 0, symbolizer: symbolizer, demangles: false)]
  }

  /// How many lanes symbolize: 1 until lanes are opened.
  var openLaneCount: Int { lanes.count }

  /// Symbolizes `addresses`, the next of the input, and queues their answers
  /// for the writer; blocks while the writer has too many chunks waiting.
  func submit(_ addresses: [UInt64]) {
    guard !addresses.isEmpty else { return }
    if !decided, laneCount > 1, addresses.count >= Self.chunkSize {
      decided = true
      openLanesIfWorthIt()
    }
    guard router != nil else {
      let chunk = AnswerChunk(
        order: Array(repeating: 0, count: addresses.count), laneCount: laneCount)
      lanes[0].symbolize(addresses, for: chunk)
      writer.submit(chunk)
      return
    }
    var order: [UInt8] = []
    order.reserveCapacity(addresses.count)
    var parts = Array(repeating: [UInt64](), count: lanes.count)
    for address in addresses {
      // In place: a copy of the router would copy its tables per chunk.
      let lane = router!.lane(of: address)
      order.append(UInt8(lane))
      parts[lane].append(address)
    }
    let chunk = AnswerChunk(order: order, laneCount: laneCount)
    for (lane, part) in zip(lanes, parts) where !part.isEmpty {
      lane.symbolize(part, for: chunk)
    }
    writer.submit(chunk)
  }

  private func openLanesIfWorthIt() {
    let locality = first.lookupLocality()
    guard locality.unitBytes >= minimumUnitBytes else { return }
    router = LaneRouter(locality: locality, laneCount: laneCount)
    // With several lanes, each demangles its own names: the writer cannot
    // start a chunk before every lane is done with it.
    lanes[0].demangleFromNowOn()
    for index in 1..<laneCount {
      lanes.append(SymbolizingLane(index: index, symbolizer: first.lane(), demangles: true))
    }
  }
}
