import Synchronization

/// A fixed number of atomic words, each 0 at first, in memory of their own
/// that is never freed: state a signal handler reads without a lock (a
/// handler may run at any time, so the words outlive every owner).
public final class AtomicWords: @unchecked Sendable {
  /// How many words there are.
  public let count: Int
  private let pointer: UnsafeMutablePointer<Atomic<UInt>>

  /// `count` words, each 0.
  public init(count: Int) {
    self.count = count
    pointer = .allocate(capacity: count)
    for i in 0..<count { (pointer + i).initialize(to: Atomic(0)) }
  }

  /// The word at `index` (`0..<count`).
  public subscript(index: Int) -> Atomic<UInt> {
    unsafeAddress {
      precondition(index >= 0 && index < count, "AtomicWords index out of range")
      return UnsafePointer(pointer + index)
    }
  }
}
