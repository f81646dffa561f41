import Basics
import LockGraph
import Synchronization

/// Every stack the live validator captured, interned: one `StackID` per
/// distinct sequence of return addresses.
///
/// Stacks are captured only when something new is recorded, so this table
/// grows with distinct dependencies and findings, not with events.
final class LiveStacks: Sendable {
  private struct Table {
    var ids: [[UInt64]: Int32] = [:]
    var stacks: [[UInt64]] = []
  }
  private let table = PThreadMutex(Table())

  /// The id of `addresses`, interned, and whether it is new.
  func intern(_ addresses: UnsafeBufferPointer<UInt64>) -> (id: StackID, isNew: Bool) {
    let key = Array(addresses)
    return table.withLock { t in
      if let id = t.ids[key] { return (StackID(id), false) }
      let id = Int32(t.stacks.count)
      t.ids[key] = id
      t.stacks.append(key)
      return (StackID(id), true)
    }
  }

  /// The addresses of stack `id`.
  func stack(_ id: StackID) -> [UInt64]? {
    table.withLock { t in id.raw >= 0 && Int(id.raw) < t.stacks.count ? t.stacks[Int(id.raw)] : nil
    }
  }
}
