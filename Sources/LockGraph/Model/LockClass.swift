import WaitContext

/// A lock class: what lockdep validates, shared by every lock instance
/// initialized with the same key. A subclass is a class of its own that
/// shares its base's key and name.
public struct LockClass: Sendable {
  /// The token that declared it (a trace's class id).
  public var key: String
  /// The display name (`&zone->lock`).
  public var name: String
  /// The kind of lock (raw spin lock, mutex, ...).
  public var kind: LockKind
  /// Its inner and outer wait types.
  public var waits: ClassWaitTypes
  /// 0 for the declared class, 1 to 7 for `sub=` variants.
  public var subclass: UInt8
  /// The declared class this one is a subclass of (itself for subclass 0).
  public var base: ClassID
  /// Lockdep's `check`: false for the RCU kinds, which are held and
  /// wait-checked but take no part in the dependency graph or irq usage.
  public var check: Bool
  /// Lockdep's usage bits (`UsageBits`).
  public var usage: UsageMask = []
  /// The sleep and wait-context rules for this class in plain task
  /// context, for the fast path (set by the registry, which knows the
  /// configuration).
  public internal(set) var taskTransitions = TaskTransitions(
    waits: ClassWaitTypes(inner: .inv), check: false, configuration: CheckConfiguration())

  /// lockdep's `name_version`: 1 for the first declared class of its
  /// name, 2 for the second, ... (a subclass has its base's).
  public var nameVersion: Int32 = 1

  /// lockdep's `__print_lock_name()`: the name, `#N` for a later class of
  /// the same name (so that two classes of one name, made in two places,
  /// read apart: `&p->lock` and `&p->lock#2`), and `/N` for a subclass.
  public var displayName: String {
    let versioned = nameVersion > 1 ? "\(name)#\(nameVersion)" : name
    return subclass == 0 ? versioned : "\(versioned)/\(subclass)"
  }
}
