import Basics
import Synchronization
import WaitContext

#if canImport(Glibc)
  import Glibc
#endif

/// Every lock class, indexed by `ClassID`, readable by any thread without a
/// lock while classes are being added.
///
/// Classes live in address ranges reserved once (`mmap`, committed by the
/// kernel only as they are touched), so a class never moves and a reader
/// needs no lock: memory grows with the classes registered, not with the
/// capacity. Registration (of a declared class, or of a subclass variant on
/// its first use) takes the registry's mutex; it is the slow path.
///
/// Invariants:
/// - a class's `LockClass` record is written once, before its id is
///   published (stored in `variants`, returned from `declare`, or counted);
///   it is never changed afterwards, so reading it needs no lock;
/// - `variants[c * 8 + s]` holds 1 + the id of subclass `s` of declared
///   class `c`, or 0 until that subclass is first used; any class id may be
///   a declared class, including ids taken by earlier variants;
/// - usage bits only grow; they are set under the shared validator lock and
///   read without one.
///
/// An overlay (`init(overlaying:)`) shares its base's classes (records,
/// subclass variants, registration) and keeps usage bits of its own, so
/// that a forked `ValidatorCore` learns usage without the base seeing it.
public final class ClassRegistry: @unchecked Sendable {
  /// The most classes (declared ones and their subclass variants) one
  /// registry holds.
  public static let capacity = 1 << 20
  /// The subclasses of one class, 0 to 7 (lockdep's
  /// `MAX_LOCKDEP_SUBCLASSES`).
  public static let subclasses = 8

  private let records: UnsafeMutablePointer<LockClass>
  private let usageBits: UnsafeMutablePointer<Atomic<UInt16>>
  private let variantSlots: UnsafeMutablePointer<Atomic<Int32>>
  private let published = Atomic<Int>(0)
  private let registration = PThreadMutex<[ExactKey: ClassID]>([:])
  /// How many declared classes have each name (lockdep's
  /// `count_matching_names()`), under `registration`.
  private var nameCounts: [String: Int32] = [:]
  /// The registry whose classes an overlay shares; nil for a base registry.
  private let base: ClassRegistry?
  /// The configuration the classes' `taskTransitions` are computed for.
  let configuration: CheckConfiguration

  /// An empty registry for `configuration` (its tables are reserved, not
  /// yet committed).
  public init(configuration: CheckConfiguration = CheckConfiguration()) {
    self.configuration = configuration
    records = Self.reserve(LockClass.self, count: Self.capacity)
    usageBits = Self.reserve(Atomic<UInt16>.self, count: Self.capacity)
    variantSlots = Self.reserve(Atomic<Int32>.self, count: Self.capacity * 8)
    base = nil
  }

  /// An overlay of `base`: the same classes, registered through `base`,
  /// with usage bits that start as a copy of `base`'s now and change apart
  /// from them afterwards.
  public init(overlaying base: ClassRegistry) {
    let root = base.base ?? base
    configuration = base.configuration
    records = root.records
    variantSlots = root.variantSlots
    usageBits = Self.reserve(Atomic<UInt16>.self, count: Self.capacity)
    for i in 0..<base.count {
      usageBits[i].store(base.usageBits[i].load(ordering: .relaxed), ordering: .relaxed)
    }
    self.base = root
  }

  deinit {
    Self.release(usageBits, count: Self.capacity)
    if base != nil { return }
    let n = published.load(ordering: .acquiring)
    records.deinitialize(count: n)
    Self.release(records, count: Self.capacity)
    Self.release(variantSlots, count: Self.capacity * 8)
  }

  /// Reserves zero-filled, never-moving memory for `count` values; pages
  /// are committed on first touch. Zero bytes are a valid `Atomic` 0.
  private static func reserve<T: ~Copyable>(_: T.Type, count: Int) -> UnsafeMutablePointer<T> {
    let bytes = MemoryLayout<T>.stride * count
    let raw = mmap(
      nil, bytes, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE, -1, 0)
    guard let raw, raw != MAP_FAILED else {
      let reason = String(cString: strerror(errno))
      ReservationFailure.handler(
        "cannot reserve \(bytes >> 20) MiB of address space for lock classes: \(reason) "
          + "(is a `ulimit -v` too small?)")
    }
    return raw.bindMemory(to: T.self, capacity: count)
  }

  private static func release<T: ~Copyable>(_ pointer: UnsafeMutablePointer<T>, count: Int) {
    munmap(UnsafeMutableRawPointer(pointer), MemoryLayout<T>.stride * count)
  }

  /// Classes registered so far (declared ones and variants).
  public var count: Int { base?.count ?? published.load(ordering: .acquiring) }

  /// The class `id`, with its usage bits as they are now.
  public subscript(id: ClassID) -> LockClass {
    var c = records[id.index]
    c.usage = usage(id)
    return c
  }

  /// The usage bits of class `id` now.
  public func usage(_ id: ClassID) -> UsageMask { tables.usage(id) }

  /// The name of class `id` (`LockClass.name`), read in place: the
  /// subscript copies the whole record (its strings retained and released,
  /// its usage read), which a lock made in a loop paid for twice.
  public func name(_ id: ClassID) -> String { records[id.index].name }

  /// The name reports print for class `id` (`LockClass.displayName`),
  /// read in place.
  public func displayName(_ id: ClassID) -> String { records[id.index].displayName }

  /// The class registered under `key`, if any.
  public func lookup(key: String) -> ClassID? {
    if let base { return base.lookup(key: key) }
    return registration.withLock { $0[ExactKey(key)] }
  }

  /// Registers a declared class under `key`, or finds the class already
  /// registered under it (the first declaration wins); `isNew` tells which.
  /// Nil when the registry is full.
  ///
  /// `whenNew` runs for a new class before any other registration (of it
  /// or of another class) can return: the live recorder declares the class
  /// there, so that a trace declares classes in the order they were
  /// registered (which numbers a name's `#2`) and before any thread can
  /// use them. It must not register a class.
  public func register(
    key: String, name: String?, kind: LockKind, waits: ClassWaitTypes,
    whenNew: ((ClassID) -> Void)? = nil
  ) -> (id: ClassID, isNew: Bool)? {
    if let base {
      return base.register(key: key, name: name, kind: kind, waits: waits, whenNew: whenNew)
    }
    return registration.withLock { keys -> (id: ClassID, isNew: Bool)? in
      if let known = keys[ExactKey(key)] { return (known, false) }
      guard
        let id = append(key: key, name: Self.displayName(name, key: key), kind: kind, waits: waits)
      else {
        return nil
      }
      keys[ExactKey(key)] = id
      whenNew?(id)
      return (id, true)
    }
  }

  /// The name a class is shown by: `name`, or its key when it has none or
  /// an empty one (spec: a class's display name defaults to its id; an
  /// empty `name=` is no name, as for a live lock's).
  static func displayName(_ name: String?, key: String) -> String {
    guard let name, !name.isEmpty else { return key }
    return name
  }

  /// Registers a declared class that shares no key with another (a trace
  /// declares each key once, and the reader checks it). Nil when full.
  public func declare(key: String, name: String?, kind: LockKind, waits: ClassWaitTypes)
    -> ClassID?
  {
    if let base { return base.declare(key: key, name: name, kind: kind, waits: waits) }
    return registration.withLock { _ in
      append(key: key, name: Self.displayName(name, key: key), kind: kind, waits: waits)
    }
  }

  /// Under `registration`: writes a record, then publishes it.
  private func append(key: String, name: String, kind: LockKind, waits: ClassWaitTypes)
    -> ClassID?
  {
    let n = published.load(ordering: .relaxed)
    guard n < Self.capacity else { return nil }
    let id = ClassID(Int32(n))
    var record = LockClass(
      key: key, name: name, kind: kind, waits: waits, subclass: 0, base: id,
      check: !kind.row.isRCU)
    nameCounts[name, default: 0] += 1
    record.nameVersion = nameCounts[name]!
    record.taskTransitions = TaskTransitions(
      waits: waits, check: record.check, configuration: configuration)
    (records + n).initialize(to: record)
    published.store(n + 1, ordering: .releasing)
    return id
  }

  /// A view of the tables that costs no reference counting to use: what
  /// the fast path reads. Valid while the registry lives.
  public var tables: ClassTables {
    ClassTables(
      records: records, usageBits: usageBits, variantSlots: variantSlots, registry: self)
  }

  @inline(never)
  fileprivate func makeVariant(of base: ClassID, subclass sub: UInt8) -> ClassID {
    if let root = self.base { return root.makeVariant(of: base, subclass: sub) }
    return registration.withLock { _ -> ClassID in
      let slot = base.index * 8 + Int(sub)
      let known = variantSlots[slot].load(ordering: .acquiring)
      if known != 0 { return ClassID(known - 1) }
      let n = published.load(ordering: .relaxed)
      guard n < Self.capacity else { return .none }
      var copy = records[base.index]
      copy.subclass = sub
      copy.usage = []
      (records + n).initialize(to: copy)
      published.store(n + 1, ordering: .releasing)
      variantSlots[slot].store(Int32(n + 1), ordering: .releasing)
      return ClassID(Int32(n))
    }
  }
}

/// The class tables as raw pointers, read by the validator's fast path
/// without touching the registry object (whose reference count every
/// thread would otherwise write). Valid while its registry lives: a
/// `ThreadValidator` keeps its core, and so the registry, alive.
public struct ClassTables: @unchecked Sendable {
  @usableFromInline let records: UnsafeMutablePointer<LockClass>
  @usableFromInline let usageBits: UnsafeMutablePointer<Atomic<UInt16>>
  let variantSlots: UnsafeMutablePointer<Atomic<Int32>>
  unowned(unsafe) let registry: ClassRegistry

  /// Classes registered so far.
  public var count: Int { registry.count }

  /// The class `id`, with its usage bits as they are now.
  public subscript(id: ClassID) -> LockClass { registry[id] }

  /// The wait types of class `id`.
  @inline(__always)
  public func waits(_ id: ClassID) -> ClassWaitTypes { records[id.index].waits }

  /// Whether lockdep's irq-usage searches skip class `id` (and any path
  /// through it): lockdep's `usage_skip()`, which skips an override class
  /// (`LD_LOCK_WAIT_OVERRIDE`: not a lock) and a per-CPU one whose inner
  /// wait type is at least `LD_WAIT_CONFIG` (`local_lock_t`). One below
  /// that is a misdeclared class, for which `usage_skip()` returns false
  /// after `DEBUG_LOCKS_WARN_ON`, which turns lockdep off (so it prints no
  /// inversion after the warning); validation does not turn itself off
  /// here, and searches it as that return says.
  func skipsIrqUsage(_ id: ClassID) -> Bool {
    let waits = records[id.index].waits
    switch waits.lockType {
    case .normal: return false
    case .override: return true
    case .percpu:
      let configuration = registry.configuration
      return configuration.number(waits.inner) >= configuration.number(.config)
    }
  }

  /// Whether class `id` takes part in the graph.
  @inline(__always)
  public func check(_ id: ClassID) -> Bool { records[id.index].check }

  /// The declared class of `id`.
  @inlinable @inline(__always)
  public func base(_ id: ClassID) -> ClassID { records[id.index].base }

  /// The task-context rules of class `id`, for the fast path.
  @inlinable @inline(__always)
  func taskTransitions(_ id: ClassID) -> TaskTransitions { records[id.index].taskTransitions }

  /// The usage bits of class `id` now.
  @inlinable @inline(__always)
  public func usage(_ id: ClassID) -> UsageMask {
    UsageMask(rawValue: usageBits[id.index].load(ordering: .relaxed))
  }

  /// Adds usage bits (under the validator's shared lock).
  func addUsage(_ id: ClassID, _ mask: UsageMask) {
    usageBits[id.index].bitwiseOr(mask.rawValue, ordering: .relaxed)
  }

  /// The class of subclass `sub` of declared class `base`, made on first use.
  @inline(__always)
  public func variant(of base: ClassID, subclass sub: UInt8) -> ClassID {
    if sub == 0 { return base }
    let slot = variantSlots[base.index &* 8 &+ Int(sub & 7)].load(ordering: .acquiring)
    if slot != 0 { return ClassID(slot &- 1) }
    return registry.makeVariant(of: base, subclass: sub & 7)
  }
}
