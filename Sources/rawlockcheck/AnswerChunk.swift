import Dispatch
import Symbolizer

/// A run of input addresses (a few hundred) split between lanes: which lane
/// answers each position, and each lane's batch once it has.
///
/// Invariants: `order[i]` is the lane of the chunk's `i`-th address; lane
/// `l`'s batch answers, in order, exactly the positions whose lane is `l`;
/// a lane stores its batch (`finish(lane:with:)`) once, before leaving the
/// group, and the batches are only read after `wait()`: the group orders
/// the writes before the reads, which is why the class may be `Sendable`.
/// The batches live in a buffer of one slot per lane, not an array: lanes
/// store into their own slots at the same time, and an array's element
/// assignment is a write access to the whole array, which two lanes would
/// make at once (ThreadSanitizer reports it as a Swift access race).
final class AnswerChunk: @unchecked Sendable {
  let order: [UInt8]
  private let batches: UnsafeMutableBufferPointer<SymbolizedBatch?>
  private let group = DispatchGroup()

  /// A chunk of `order.count` addresses, answered by lanes below `laneCount`.
  init(order: [UInt8], laneCount: Int) {
    self.order = order
    batches = .allocate(capacity: laneCount)
    batches.initialize(repeating: nil)
  }

  deinit {
    batches.deinitialize()
    batches.deallocate()
  }

  /// Marks one more lane as working on this chunk (before handing it over).
  func begin() { group.enter() }

  /// Stores lane `lane`'s answers; called once by that lane.
  func finish(lane: Int, with batch: SymbolizedBatch) {
    batches[lane] = batch
    group.leave()
  }

  /// Waits until every lane that began has finished.
  func wait() { group.wait() }

  /// Absorbs each lane's batch into that lane's renderer, then prints the
  /// answers in input order: runs of consecutive positions of one lane at
  /// a time.
  func render(with renderers: inout [BatchRenderer], to out: inout [UInt8]) {
    for (lane, batch) in batches.enumerated() {
      if let batch { renderers[lane].absorb(batch) }
    }
    var next = Array(repeating: 0, count: batches.count)
    var position = 0
    while position < order.count {
      let lane = Int(order[position])
      var end = position + 1
      while end < order.count, order[end] == order[position] { end += 1 }
      let start = next[lane]
      next[lane] += end - position
      renderers[lane].appendAnswers(start..<next[lane], of: batches[lane]!, to: &out)
      position = end
    }
  }
}
