import Basics
import LockGraph
import WaitContext

/// A thread's last few places that made a lock, each with the class it
/// gave: a loop making a lock per object finds its class here rather than
/// building the place's registry key (`LockClassSite`) and looking it up
/// under the registry's lock each time (about 70 % of the time a validated
/// lock's whole life took).
///
/// Invariant: an entry's class is the one `LiveValidator.registerClass`
/// returned for exactly these arguments (the place, kind, name and key
/// name, compared byte for byte as the registry compares keys), and a
/// registration is never undone, so it returns the same class for them
/// again, and a lock given the same name again has nothing new to say
/// (`sharedClass` says a renamed class once).
struct RecentSites {
  /// One remembered place.
  private struct Entry {
    var fileID: String
    var line: Int
    var column: Int
    var kind: LockKind
    var name: String?
    var keyName: String?
    var lockClass: ClassID
    var className: String
  }

  /// The entries, the newest at `next - 1` (round robin).
  private var entries: [Entry] = []
  private var next = 0
  /// How many places are kept.
  static let capacity = 4

  /// The class and class name remembered for these arguments, or nil.
  func lookup(
    kind: LockKind, name: String?, keyName: String?, fileID: String, line: Int, column: Int
  ) -> (lockClass: ClassID, className: String)? {
    for e in entries
    where e.line == line && e.column == column && e.kind == kind
      && Self.same(e.fileID, fileID) && Self.same(e.name, name) && Self.same(e.keyName, keyName)
    {
      return (e.lockClass, e.className)
    }
    return nil
  }

  /// Remembers the class registered for these arguments.
  mutating func remember(
    kind: LockKind, name: String?, keyName: String?, fileID: String, line: Int, column: Int,
    lockClass: ClassID, className: String
  ) {
    let entry = Entry(
      fileID: fileID, line: line, column: column, kind: kind, name: name, keyName: keyName,
      lockClass: lockClass, className: className)
    if entries.count < Self.capacity {
      entries.append(entry)
    } else {
      entries[next] = entry
    }
    next = (next + 1) % Self.capacity
  }

  /// Byte equality, as the registry's keys compare (`String`'s own is
  /// canonical equivalence).
  private static func same(_ a: String?, _ b: String?) -> Bool {
    switch (a, b) {
    case (nil, nil): return true
    case (let a?, let b?): return ExactKey(a) == ExactKey(b)
    default: return false
    }
  }
}
