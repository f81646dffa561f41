import WaitContext

/// Every lock class, indexed by `ClassID`. Declared classes are registered
/// up front; subclass variants are created on their first acquisition.
///
/// Invariant: `variants[base * 8 + sub]` is the class of subclass `sub` of
/// declared class `base`, or -1 until first used.
public struct ClassTable: Sendable {
  public private(set) var classes: [LockClass] = []
  private var variants: [Int32] = []
  /// Where each usage bit of a class was first set (`usage_traces`).
  private var usageOrigins: [Int: Origin] = [:]

  public init() {}

  public var count: Int { classes.count }

  @inlinable
  public subscript(id: ClassID) -> LockClass {
    get { classes[id.index] }
  }

  /// Registers a declared class and returns its id.
  public mutating func declare(key: String, name: String?, kind: LockKind, waits: ClassWaitTypes)
    -> ClassID
  {
    let id = ClassID(Int32(classes.count))
    classes.append(
      LockClass(
        key: key, name: name ?? key, kind: kind, waits: waits, subclass: 0, base: id,
        check: !kind.row.isRCU))
    variants.append(contentsOf: repeatElement(-1, count: 8))
    variants[id.index * 8] = id.raw
    return id
  }

  /// The class of subclass `sub` (0 to 7) of a declared class.
  @inlinable
  public mutating func variant(of base: ClassID, subclass sub: UInt8) -> ClassID {
    if sub == 0 { return base }
    return makeVariant(of: base, subclass: sub)
  }

  @usableFromInline
  mutating func makeVariant(of base: ClassID, subclass sub: UInt8) -> ClassID {
    let slot = base.index * 8 + Int(sub & 7)
    if variants[slot] >= 0 { return ClassID(variants[slot]) }
    var copy = classes[base.index]
    copy.subclass = sub & 7
    copy.usage = []
    let id = ClassID(Int32(classes.count))
    classes.append(copy)
    variants[slot] = id.raw
    return id
  }

  mutating func setUsage(_ id: ClassID, _ usage: UsageMask) { classes[id.index].usage = usage }

  mutating func recordUsageOrigin(_ id: ClassID, bit: UsageBit, _ origin: Origin) {
    usageOrigins[id.index &* 16 &+ Int(bit.rawValue)] = origin
  }

  /// Where `bit` was first set on class `id`.
  public func usageOrigin(_ id: ClassID, bit: UsageBit) -> Origin? {
    usageOrigins[id.index &* 16 &+ Int(bit.rawValue)]
  }
}
