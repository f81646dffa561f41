import LockGraph
import WaitContext

/// A validated object that is not a lock of this module (the kernel's
/// `struct lockdep_map` with `lock_map_acquire()`): a read-side section, a
/// completion, a custom primitive. Acquire and release it around what it
/// guards, and the validator checks it as a lock of its kind.
///
/// For example, an RCU read-side section: `LockdepMap(.rcu, name:
/// "rcu_read_lock")`, acquired on entry and released on exit (RCU kinds are
/// always taken as recursive reads and add no graph edges).
public final class LockdepMap: ValidatedLock, @unchecked Sendable {
  /// The kind of lock it is checked as.
  public let kind: LockKind

  /// A map of `kind`, of the class of this line or of `key`.
  public init(
    _ kind: LockKind, name: String? = nil, key: LockClassKey? = nil, fileID: String = #fileID,
    line: Int = #line
  ) {
    self.kind = kind
    super.init(kind: kind, name: name, key: key, fileID: fileID, line: line)
  }

  /// Records an acquisition (`lock_map_acquire()`, or a read with `read`).
  public func acquire(read: Bool = false, recursive: Bool = false, trylock: Bool = false) {
    validateAcquire(
      read: read ? (recursive ? .recursive : .shared) : .exclusive, trylock: trylock)
  }

  /// Records the release.
  public func release() { validateRelease() }
}
