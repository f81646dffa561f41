import Dispatch
import Symbolizer
import Synchronization

/// Renders batches of symbolized addresses and writes them to a file
/// descriptor on a second thread, so that symbolizing the next addresses
/// overlaps printing (and demangling) the last ones: `symbolize`'s output.
///
/// Invariants: batches are written whole, each answer followed by a newline,
/// in the order they were submitted (one serial queue, which alone touches
/// the renderer); at most `limit` batches are waiting at any time, so a slow
/// reader of the output holds the symbolizing thread back instead of memory
/// growing with the input; after `finish()` returns, everything submitted
/// before it has been written.
///
/// The default limit, 64 batches (a few hundred kilobytes), lets the
/// symbolizing thread run ahead while the writer demangles the many new
/// names of the first batches; with 8 it waited for the writer there.
final class AnswerWriter: Sendable {
  private let queue = DispatchQueue(label: "rawlockcheck.symbolize.output")
  private let slots: DispatchSemaphore
  private let descriptor: Int32
  /// The renderer and its output buffer (reused between batches).
  private let state: Mutex<(renderer: BatchRenderer, out: [UInt8])>

  /// A writer to `descriptor` in `format`, with at most `limit` batches waiting.
  init(descriptor: Int32, format: OutputFormat, limit: Int = 64) {
    precondition(limit > 0)
    self.descriptor = descriptor
    state = Mutex((BatchRenderer(format: format == .json ? .json : .text), []))
    slots = DispatchSemaphore(value: limit)
  }

  /// Queues `batch` (the next of its sequence) for writing; blocks while
  /// `limit` batches are waiting.
  func submit(_ batch: SymbolizedBatch) {
    guard !batch.isEmpty else { return }
    slots.wait()
    queue.async { [self] in
      state.withLock { state in
        state.out.removeAll(keepingCapacity: true)
        state.renderer.append(batch, to: &state.out)
        writeAll(state.out, to: descriptor)
      }
      slots.signal()
    }
  }

  /// Waits until every batch submitted so far is written.
  func finish() {
    queue.sync {}
  }
}
