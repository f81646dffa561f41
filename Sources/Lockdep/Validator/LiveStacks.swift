import Basics
import LockGraph
import Synchronization
import Trace

/// Every stack the live validator captured, interned as a trace reader
/// interns a trace's (`TraceSymbols.internStack`): one `StackID` per
/// distinct sequence of return addresses.
///
/// Stacks are captured only when something new is recorded, and, while a
/// trace is recorded, for each free (`LiveThread.recordCurrentEvent`), so
/// this table grows with distinct dependencies, findings and places that
/// free a lock, not with events.
final class LiveStacks: Sendable {
  private let table = PThreadMutex(TraceSymbols())

  /// The id of `addresses`, interned, and whether it is new; `declare` is
  /// called with a new one before any other thread can get its id.
  func intern(
    _ addresses: UnsafeBufferPointer<UInt64>,
    whenNew declare: (StackID, [UInt64]) -> Void
  ) -> (id: StackID, isNew: Bool) {
    let key = Array(addresses)
    return table.withLock { t in
      let known = t.stacks.count
      let id = StackID(t.internStack(key))
      let isNew = t.stacks.count > known
      // Under the table's lock: no other thread can name the stack before
      // `declare` has (the recorder writes its declaration at once).
      if isNew { declare(id, key) }
      return (id, isNew)
    }
  }

  /// The addresses of stack `id`.
  func stack(_ id: StackID) -> [UInt64]? {
    table.withLock { t in id.raw >= 0 && Int(id.raw) < t.stacks.count ? t.stacks[Int(id.raw)] : nil
    }
  }
}
