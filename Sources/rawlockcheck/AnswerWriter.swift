import Basics
import Dispatch
import Symbolizer
import Synchronization

/// Prints the chunks of `symbolize`'s input in order, each once every lane
/// has symbolized its part, on a thread of its own: symbolizing the next
/// addresses overlaps printing (and demangling) the last ones.
///
/// Invariants: chunks are written whole, in the order they were submitted,
/// each answer followed by a newline and in input order (one serial queue,
/// which alone touches the renderers); lane `i`'s batches reach renderer
/// `i` in the order the lane made them; at most `limit` chunks are waiting
/// at any time, so a slow reader of the output holds the input back instead
/// of memory growing with it; after `finish()` returns, everything submitted
/// before it has been written; after a write fails, nothing more is
/// written and `failure` says why.
///
/// The default limit, 64 chunks (a few hundred kilobytes), lets the lanes
/// run ahead while the writer demangles the many new names of the first
/// chunks; with 8 they waited for the writer there.
final class AnswerWriter: Sendable {
  private let queue = DispatchQueue(label: "rawlockcheck.symbolize.output")
  private let slots: DispatchSemaphore
  private let descriptor: Int32
  /// One renderer per lane, the output buffer (reused between chunks), and
  /// the `errno` of the first failed write (0 while none has).
  private let state: PThreadMutex<(renderers: [BatchRenderer], out: [UInt8], failure: Int32)>

  /// A writer to `descriptor` in `format` of the answers of up to
  /// `laneCount` lanes, with at most `limit` chunks waiting.
  init(descriptor: Int32, format: TextOrJSONFormat, laneCount: Int, limit: Int = 64) {
    precondition(limit > 0 && laneCount > 0)
    self.descriptor = descriptor
    let renderer = BatchRenderer(format: format == .json ? .json : .text)
    state = PThreadMutex((Array(repeating: renderer, count: laneCount), [], 0))
    slots = DispatchSemaphore(value: limit)
  }

  /// Queues `chunk` for writing once its lanes are done; blocks while
  /// `limit` chunks are waiting.
  func submit(_ chunk: AnswerChunk) {
    slots.wait()
    queue.async { [self] in
      chunk.wait()
      state.withLock { state in
        guard state.failure == 0 else { return }
        state.out.removeAll(keepingCapacity: true)
        chunk.render(with: &state.renderers, to: &state.out)
        state.failure = writeAll(state.out, to: descriptor)
      }
      slots.signal()
    }
  }

  /// The `errno` of the first write that failed, or nil.
  var failure: Int32? {
    let code = state.withLock { $0.failure }
    return code == 0 ? nil : code
  }

  /// Waits until every chunk submitted so far is written.
  func finish() {
    queue.sync {}
  }
}
