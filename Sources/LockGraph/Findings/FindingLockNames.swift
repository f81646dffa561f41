import WaitContext

extension ValidatorCore {
  /// The names of the locks `finding` is about, each once: the lock it
  /// concerns first, then the other classes its kind names (the held lock
  /// whose wait type an invalid wait context broke, a cycle's links, the
  /// irq-safe and irq-unsafe classes, the held locks left at an exit), as
  /// its report names them.
  ///
  /// With `heldFirst`, the order of earlier versions, in which a cycle, a
  /// recursive locking and an irq-unsafe dependency named the held lock
  /// before the lock being taken: SARIF fingerprints
  /// (`rawlockcheckFinding/v1`) hash the names in that order, so that a
  /// code scanning service still matches the alerts of earlier runs.
  public func lockNames(of finding: Finding, heldFirst: Bool = false) -> [String] {
    var names: [String] = []
    // Each name once, found by hashing: a cycle's chain may have a link
    // per class (up to the class table's million), and an array's search
    // for each made the names quadratic in the chain.
    var seen: Set<String> = []
    func add(_ c: ClassID) {
      let n = classes[c].displayName
      if seen.insert(n).inserted { names.append(n) }
    }
    switch finding.detail {
    case .invalidWaitContext(let context, _, let required):
      // The lock taken, then the held lock whose inner wait type limits
      // the context, if one does (not the interrupt context itself).
      guard let lock = finding.lock else { break }
      add(lock.lockClass)
      if let limiting = limitingLock(
        of: finding.held, in: lock.irqContext, from: context, required: required)
      {
        add(limiting)
      }
    case .circularDependency(let held, let chain):
      // The lock being taken ("is trying to acquire lock"), then the held
      // one it would wait behind, then the rest of the cycle.
      if !heldFirst, let lock = finding.lock { add(lock.lockClass) }
      add(held.lockClass)
      for link in chain { add(link.lockClass) }
    case .recursiveLocking(let held):
      if !heldFirst, let lock = finding.lock { add(lock.lockClass) }
      add(held.lockClass)
    case .irqUnsafeDependency(let held, let safe, _, _, let unsafe, _, _, _, _, _):
      if !heldFirst, let lock = finding.lock { add(lock.lockClass) }
      add(held.lockClass)
      if let lock = finding.lock { add(lock.lockClass) }
      add(safe)
      add(unsafe)
    case .irqInversion(_, let other, _, _):
      if let lock = finding.lock { add(lock.lockClass) }
      add(other)
    case .nestedLockNotTaken(let nest):
      if let lock = finding.lock { add(lock.lockClass) }
      add(nest)
    case .locksHeldAtExit:
      for held in finding.held { add(held.lockClass) }
    case .sleepInAtomic:
      // The lock that may sleep (none for a might-sleep), then the held
      // locks that make the thread atomic, as the report's "holding"
      // lines name them. Not in the fingerprints' order (`heldFirst`),
      // whose names stay those of earlier versions.
      // On PREEMPT_RT, a held lock that is an RCU read-side section there
      // counts too, unless an rtlock is being taken (`checkSleepSlow`).
      guard !heldFirst else { break }
      if let lock = finding.lock { add(lock.lockClass) }
      let rcuNestCounts = SleepRule.rcuNestCounts(
        rt: configuration.preemptRT, taking: finding.lock.map { classes[$0.lockClass].waits })
      for held in finding.held {
        let c = classes[held.lockClass]
        if SleepRule.makesAtomic(c.waits, configuration: configuration)
          || rcuNestCounts && SleepRule.nestsRCUOnRT(c.kind)
        {
          add(held.lockClass)
        }
      }
    default:
      break
    }
    if let lock = finding.lock { add(lock.lockClass) }
    return names
  }

  /// The held lock (of interrupt context `irqContext`) that set what the
  /// wait-context rule allowed when it refused `required`, walking the
  /// locks as `WaitContextRule.allowed` does from the context's limit
  /// `context`: the last to lower the running value (or reset it, an
  /// override), when that value is below `required`; nil when the
  /// context's own limit refused it.
  func limitingLock(
    of held: [LockSnapshot], in irqContext: UInt8, from context: WaitType, required: WaitType
  ) -> ClassID? {
    var current = context
    var limiting: ClassID? = nil
    for h in held where h.irqContext == irqContext {
      let waits = classes[h.lockClass].waits
      let next = WaitContextRule.lower(
        current, holder: waits.inner, lockType: waits.lockType, configuration: configuration)
      if next < current || (waits.lockType == .override && waits.inner != .inv) {
        limiting = h.lockClass
      }
      current = next
    }
    return current < required ? limiting : nil
  }
}
