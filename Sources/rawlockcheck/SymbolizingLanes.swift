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
  private let demangles: Bool

  init(index: Int, symbolizer: Symbolizer, demangles: Bool) {
    self.index = index
    self.demangles = demangles
    self.symbolizer = symbolizer
    queue = DispatchQueue(label: "rawlockcheck.symbolize.lane\(index)")
  }

  /// Symbolizes `addresses`, this lane's part of `chunk`, on the lane's
  /// queue, and stores the answers in the chunk.
  func symbolize(_ addresses: [UInt64], for chunk: AnswerChunk) {
    chunk.begin()
    queue.async { [self] in
      batch.removeAnswers()
      for address in addresses { symbolizer.symbolize(address, into: &batch) }
      // With several lanes, names are demangled on them rather than on the
      // writer, which cannot start a chunk before every lane is done with it.
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
/// does not pay for opening the file's DWARF again. Then the other lanes
/// are opened (`Symbolizer.lane()`, which reuses inflated DWARF) and every
/// chunk from that one on is routed.
///
/// Not thread-safe: the thread that reads the input calls `submit`.
final class SymbolizingLanes {
  /// The addresses of a full chunk.
  static let chunkSize = 256

  private let first: Symbolizer
  private let laneCount: Int
  private let writer: AnswerWriter
  private var lanes: [SymbolizingLane]
  private var router: LaneRouter?

  /// Lanes of `symbolizer` (and, from the first full chunk, `laneCount - 1`
  /// more) writing through `writer`, which must take `laneCount` lanes.
  init(symbolizer: Symbolizer, laneCount: Int, writer: AnswerWriter) {
    precondition(laneCount >= 1 && laneCount <= Int(UInt8.max))
    first = symbolizer
    self.laneCount = laneCount
    self.writer = writer
    lanes = [SymbolizingLane(index: 0, symbolizer: symbolizer, demangles: laneCount > 1)]
  }

  /// Symbolizes `addresses`, the next of the input, and queues their answers
  /// for the writer; blocks while the writer has too many chunks waiting.
  func submit(_ addresses: [UInt64]) {
    guard !addresses.isEmpty else { return }
    if router == nil, laneCount > 1, addresses.count >= Self.chunkSize { openLanes() }
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

  private func openLanes() {
    router = LaneRouter(locality: first.lookupLocality(), laneCount: laneCount)
    for index in 1..<laneCount {
      lanes.append(SymbolizingLane(index: index, symbolizer: first.lane(), demangles: true))
    }
  }
}
