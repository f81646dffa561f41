import Dispatch
import Symbolizer
import Synchronization

/// Formats batches of symbolized addresses and writes them to a file
/// descriptor on a second thread, so that symbolizing the next addresses
/// overlaps formatting (and demangling) the last ones: `symbolize`'s output.
///
/// Invariants: batches are written whole, each answer followed by a newline,
/// in the order they were submitted (one serial queue); at most `limit`
/// batches are waiting at any time, so a slow reader of the output holds the
/// symbolizing thread back instead of memory growing with the input; after
/// `finish()` returns, everything submitted before it has been written.
final class AnswerWriter: Sendable {
  private let queue = DispatchQueue(label: "rawlockcheck.symbolize.output")
  private let slots: DispatchSemaphore
  private let descriptor: Int32
  private let format: OutputFormat
  /// Written batches, handed back so that the submitting thread frees them:
  /// freeing releases every name and path the frames share, and doing that
  /// here, while the other thread retains the same objects for new frames,
  /// makes both threads fight over their reference counts.
  private let written = Mutex<[[SymbolizedAddress]]>([])

  /// A writer to `descriptor` in `format`, with at most `limit` batches waiting.
  init(descriptor: Int32, format: OutputFormat, limit: Int = 8) {
    precondition(limit > 0)
    self.descriptor = descriptor
    self.format = format
    slots = DispatchSemaphore(value: limit)
  }

  /// Queues `batch` for writing; blocks while `limit` batches are waiting.
  func submit(_ batch: [SymbolizedAddress]) {
    guard !batch.isEmpty else { return }
    written.withLock { $0.removeAll(keepingCapacity: true) }
    slots.wait()
    queue.async { [self] in
      var out = ""
      out.reserveCapacity(batch.count * 160)
      for answer in batch {
        switch format {
        case .text: FrameFormatting.appendText(answer, printAddress: true, to: &out)
        case .json: FrameFormatting.appendJSON(answer, to: &out)
        }
        out += "\n"
      }
      writeAll(&out, to: descriptor)
      written.withLock { $0.append(batch) }
      slots.signal()
    }
  }

  /// Waits until every batch submitted so far is written.
  func finish() {
    queue.sync {}
  }
}
