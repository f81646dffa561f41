import LockGraph
import WaitContext

/// A lock class shared by every lock created with it, wherever they are
/// created (the kernel's `struct lock_class_key` passed to
/// `lockdep_set_class()`).
///
/// Without a key, every lock created by one place in the code shares one
/// class, as the kernel's static key per init site (a `spin_lock_init()`
/// expansion): `#fileID`, `#line` and `#column` name it.
public struct LockClassKey: Hashable, Sendable {
  /// The key: locks made with equal names share one class. It is the
  /// name reports print for the class unless the class's first lock was
  /// made with a name of its own (`Mutex(name: "&a->lock", key: key)`),
  /// which the class keeps (`ValidatedLock.className` gives it).
  public let name: String

  /// A class key named `name`; keys with equal names are one class.
  public init(_ name: String) { self.name = name }
}

/// How a lock names its class, decided once when the lock is created.
@usableFromInline
struct LockClassSite: Sendable {
  /// The registry key: the given class key, else the creating place
  /// (file, line and column) and kind.
  let key: String
  /// The name reports print.
  let name: String
  /// Whether the lock was given a name of its own (else `name` is its
  /// key's or its place's, which its class has too).
  let isNamed: Bool
  /// The class key's name, when the lock was made with one.
  let keyName: String?
  /// The creating place: `#fileID`, `#line`, `#column`.
  let fileID: String
  let line: Int
  let column: Int

  init(
    kind: LockKind, name: String?, key: LockClassKey?, fileID: String, line: Int, column: Int
  ) {
    // An empty name is none: reports would print `()`.
    let name = name?.isEmpty == true ? nil : name
    isNamed = name != nil
    keyName = key?.name
    (self.fileID, self.line, self.column) = (fileID, line, column)
    if let key {
      self.key = "key:\(key.name):\(kind.rawValue)"
      self.name = name ?? key.name
    } else {
      // Two locks made on one line (`let a = Mutex(), b = Mutex()`) are
      // two places, as two init macros on one line are two static keys;
      // an unnamed one is named by its place, as a compiler names a
      // column.
      self.key = "site:\(fileID):\(line):\(column):\(kind.rawValue)"
      self.name = name ?? "\(fileID):\(line):\(column)"
    }
  }

  /// Whether the class is a `LockClassKey`'s, not the place's.
  var isKeyed: Bool { keyName != nil }

  /// Where the class comes from, for messages: `File.swift:12:20`, or its
  /// `LockClassKey` (made when a message needs it, not with every lock).
  var place: String {
    if let keyName { return "LockClassKey(\"\(keyName)\")" }
    return "\(fileID):\(line):\(column)"
  }
}
