import WaitContext

/// A held lock as a finding shows it: a snapshot taken when it was found.
public struct LockSnapshot: Sendable, Hashable {
  /// The held lock's class.
  public var lockClass: ClassID
  /// How it was acquired.
  public var read: ReadMode
  /// It was taken with a trylock.
  public var isTrylock: Bool
  /// The lock instance's address, 0 when unknown.
  public var instance: UInt64
  /// Where it was acquired.
  public var origin: Origin
  /// The class's usage bits when the finding was recorded.
  public var usage: UsageMask = []
  /// The interrupt context it was taken in (`IRQContextID`'s bits; 0 for
  /// task context): the held locks of the acquisition's own context are
  /// those the wait-context rule walks.
  public var irqContext: UInt8 = 0

  init(_ held: HeldLock) {
    self.lockClass = held.lockClass
    self.read = held.read
    self.isTrylock = held.isTrylock
    self.instance = held.instance
    self.origin = held.origin
    self.irqContext = held.irqContext
  }

  init(lockClass: ClassID, read: ReadMode, isTrylock: Bool, instance: UInt64, origin: Origin) {
    self.lockClass = lockClass
    self.read = read
    self.isTrylock = isTrylock
    self.instance = instance
    self.origin = origin
  }
}

/// One link of a printed dependency chain: a class, and where the
/// dependency into it was first recorded.
public struct ChainLink: Sendable, Hashable {
  /// The class the dependency leads into; on a backwards search's path
  /// (an irq-unsafe dependency's `safeToHeld`, a backwards inversion's
  /// path), the class it comes from, as lockdep's backwards `lock_list`
  /// entries are (the reports' `TakenLinks` pairs each stack with the
  /// class taken there).
  public var lockClass: ClassID
  /// Where the dependency was first recorded: where its second lock was
  /// taken.
  public var origin: Origin
  /// The thread that recorded it, when known.
  public var thread: ThreadID?
  /// The class's usage bits when the finding was made (lockdep prints
  /// them as they were then): set for a circular dependency's chain and
  /// the paths of irq reports.
  public var usage: UsageMask? = nil
}

/// What made a thread atomic where it may sleep, as the kernel's
/// `__might_resched()` prints it.
public struct AtomicState: Sendable, Hashable {
  /// The kernel's `preempt_count()` then: 1 per lock held that disables
  /// preemption and per `preempt_disable()`, `SOFTIRQ_DISABLE_OFFSET`
  /// (0x200) per bottom-half disable (`rcu_read_lock_bh()` too),
  /// `SOFTIRQ_OFFSET` (0x100) in a softirq, `HARDIRQ_OFFSET` (0x10000) in
  /// a hard interrupt, and `NMI_OFFSET` with it (0x110000) in an NMI.
  public var preemptCount: UInt32
  /// `rcu_preempt_depth()`: the `rcu_read_lock()` sections held
  /// (preemptible RCU).
  public var rcuDepth: Int
  /// The RCU nest depth the check allows (`__might_resched()`'s
  /// "expected"): 0, except for a PREEMPT_RT `spinlock_t` or `rwlock_t`
  /// being taken, which may nest in RCU read-side sections
  /// (`rtlock_might_resched()` expects the depth there is).
  public var rcuDepthExpected: Int
  /// Where preemption was disabled (the kernel's `preempt_disable_ip`):
  /// the held lock or context event that took the preempt count from 0;
  /// nil when it is 0.
  public var preemptionDisabledAt: Origin?

  /// A state of `preemptCount` and `rcuDepth`.
  public init(
    preemptCount: UInt32 = 0, rcuDepth: Int = 0, rcuDepthExpected: Int = 0,
    preemptionDisabledAt: Origin? = nil
  ) {
    self.preemptCount = preemptCount
    self.rcuDepth = rcuDepth
    self.rcuDepthExpected = rcuDepthExpected
    self.preemptionDisabledAt = preemptionDisabledAt
  }
}

/// What is specific to each kind of finding.
public enum FindingDetail: Sendable, Hashable {
  /// The acquisition needs `required`, the context allows `allowed`;
  /// `context` is the interrupt context's own limit.
  case invalidWaitContext(context: WaitType, allowed: WaitType, required: WaitType)
  /// `chain` lists the existing dependency chain in lockdep's reverse order:
  /// first the held lock's class (`-> #N`), last the lock being taken (`-> #0`).
  case circularDependency(held: LockSnapshot, chain: [ChainLink])
  /// The thread takes a lock of a class it holds already (`held`).
  case recursiveLocking(held: LockSnapshot)
  /// `previous` was set at `previousOrigin`; `new` conflicts with it.
  case inconsistentLockState(
    previous: UsageBit, new: UsageBit, previousOrigin: Origin?, state: String)
  /// A new dependency held -> lock connects an irq-safe class to an
  /// irq-unsafe one (lockdep's `print_bad_irq_dependency()`).
  case irqUnsafeDependency(
    held: LockSnapshot, safe: ClassID, safeBit: UsageBit, safeOrigin: Origin?,
    unsafe: ClassID, unsafeBit: UsageBit, unsafeOrigin: Origin?,
    safeToHeld: [ChainLink], lockToUnsafe: [ChainLink], state: String)
  /// Marking a usage bit connected an irq-safe and an irq-unsafe class
  /// (lockdep's `print_irq_inversion_bug()`): `forwards` when the lock took
  /// `other` after it, else `other` took the lock.
  case irqInversion(forwards: Bool, other: ClassID, irqClass: String, path: [ChainLink])
  /// A release of a lock the thread does not hold.
  case badUnlockBalance
  /// Memory from `from` to `to` (inclusive) was freed, or a lock at `from`
  /// re-initialized (`reinitialized`), while `holder` held a lock there.
  case heldLockFreed(from: UInt64, to: UInt64, holder: ThreadID, reinitialized: Bool)
  /// A sleep where sleeping is not allowed; `reasons` say why not
  /// (`interrupts disabled`, `in hardirq context`, ...), `atomic` what
  /// the kernel's `__might_resched()` prints about it.
  case sleepInAtomic(reasons: SleepReasons, atomic: AtomicState)
  /// `interrupt` names the handler that returned with locks held, when it
  /// was not the thread that ended; `scope` what else ended with locks
  /// taken in it still held (`the test`: lockdep's "lock held when
  /// returning to user space").
  case locksHeldAtExit(interrupt: String?, scope: String? = nil)
  /// An acquisition with `nest=` while the thread does not hold `nest`.
  case nestedLockNotTaken(nest: ClassID)
  /// A size limit of the validator was reached (`limit`: lockdep's name
  /// for it, `max`: its value here); `consequence` says what went
  /// unchecked.
  case limitExceeded(limit: String, max: Int, consequence: String)
}

extension FindingDetail {
  /// What tells apart two findings of one kind about the same classes at
  /// the same site (`FindingStore`'s key): the usage pair of an
  /// inconsistent lock state (a softirq and a hardirq conflict of one lock
  /// from one place are two problems), the direction and irq class of an
  /// irq inversion; 0 for the rest.
  var storeVariant: UInt32 {
    switch self {
    case .inconsistentLockState(let previous, let new, _, _):
      1 << 16 | UInt32(previous.rawValue) << 8 | UInt32(new.rawValue)
    case .irqInversion(let forwards, _, let irqClass, _):
      // `UsageBit.stateName`'s four names.
      2 << 16 | (forwards ? 1 << 8 : 0)
        | UInt32(
          ["HARDIRQ", "HARDIRQ-READ", "SOFTIRQ", "SOFTIRQ-READ"].firstIndex(of: irqClass) ?? 4)
    case .locksHeldAtExit(let interrupt, let scope):
      // What was left names the report ("leaving the test", a handler):
      // two scopes that leave the same locks at the same place are two
      // findings, each with its own words (one test's report said another
      // test's "leaving the block").
      interrupt == nil && scope == nil ? 0 : 3 << 24 | Self.hash(interrupt, scope) & 0xFF_FFFF
    default: 0
    }
  }
}

extension FindingDetail {
  /// FNV-1a of `first`, a 0 byte and `second` (nil as empty).
  static func hash(_ first: String?, _ second: String?) -> UInt32 {
    var hash: UInt32 = 2_166_136_261
    for byte in (first ?? "").utf8 + [0] + (second ?? "").utf8 {
      hash = (hash ^ UInt32(byte)) &* 16_777_619
    }
    return hash
  }
}

/// One distinct problem, with how often it happened.
public struct Finding: Sendable {
  /// What kind of problem it is.
  public var kind: FindingKind
  /// The thread it first happened on.
  public var thread: ThreadID
  /// Where it first happened.
  public var origin: Origin
  /// The lock being acquired, released, freed or marked, if any.
  public var lock: LockSnapshot?
  /// The thread's held locks when it happened, oldest first.
  public var held: [LockSnapshot]
  /// What is specific to its kind.
  public var detail: FindingDetail
  /// How many times it happened: occurrences of the same kind, classes and
  /// site are one finding.
  public var count: Int
  /// Execution context description at the time (`HC1[1]:SC0[0]:HE0:SE1`).
  public var irqState: String
  /// The thread's interrupt state changes when it happened, for an
  /// inconsistent lock state, and for a sleep in atomic context with
  /// interrupts off (the kernel prints them for both); nil otherwise.
  public var irqTrace: IrqTrace? = nil
  /// The classes its store keys it by (with its kind, site and variant),
  /// as the check that found it chose them: set as the store keeps it,
  /// so that another store adopting it (`ValidatorCore.adopt`) keys it
  /// the same way, and counts a repeat found there as the same finding.
  var storeClasses: [ClassID] = []
}

extension Finding {
  /// Every place the finding names: its own, its lock's, its held locks',
  /// and its detail's (the held lock it conflicts with, a chain's links,
  /// where usage bits were set).
  public var origins: [Origin] {
    var origins = [origin] + held.map(\.origin)
    if let lock { origins.append(lock.origin) }
    switch detail {
    case .circularDependency(let held, let chain): origins += [held.origin] + chain.map(\.origin)
    case .recursiveLocking(let held): origins.append(held.origin)
    case .inconsistentLockState(_, _, let previous, _): origins += [previous].compactMap { $0 }
    case .irqUnsafeDependency(let held, _, _, let safe, _, _, let unsafe, let a, let b, _):
      origins += [held.origin] + [safe, unsafe].compactMap { $0 } + (a + b).map(\.origin)
    case .irqInversion(_, _, _, let path): origins += path.map(\.origin)
    default: break
    }
    return origins
  }
}

extension Finding {
  /// Class `c`'s usage bits as the finding recorded them when it was made
  /// (its lock's, a held lock's, a chain or path link's), which lockdep
  /// prints as they were then; nil when it recorded none for `c`. A report
  /// printed after later events (offline, at the trace's end) must print
  /// these, not the class's bits at its end.
  public func usage(of c: ClassID) -> UsageMask? {
    if let lock, lock.lockClass == c { return lock.usage }
    if let held = held.last(where: { $0.lockClass == c }) { return held.usage }
    switch detail {
    case .circularDependency(let held, let chain):
      if held.lockClass == c { return held.usage }
      return chain.last { $0.lockClass == c }?.usage
    case .recursiveLocking(let held):
      return held.lockClass == c ? held.usage : nil
    case .irqUnsafeDependency(let held, _, _, _, _, _, _, let safeToHeld, let lockToUnsafe, _):
      if held.lockClass == c { return held.usage }
      return (safeToHeld + lockToUnsafe).last { $0.lockClass == c && $0.usage != nil }?.usage
    case .irqInversion(_, _, _, let path):
      return path.last { $0.lockClass == c }?.usage
    default:
      return nil
    }
  }
}
