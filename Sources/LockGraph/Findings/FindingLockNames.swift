extension ValidatorCore {
  /// The names of the locks `finding` is about, each once: the lock it
  /// concerns first, then the other classes its kind names (a cycle's
  /// links, the irq-safe and irq-unsafe classes, the held locks left at
  /// an exit), as its report names them.
  public func lockNames(of finding: Finding) -> [String] {
    var names: [String] = []
    func add(_ c: ClassID) {
      let n = classes[c].displayName
      if !names.contains(n) { names.append(n) }
    }
    switch finding.detail {
    case .circularDependency(let held, let chain):
      add(held.lockClass)
      for link in chain { add(link.lockClass) }
    case .recursiveLocking(let held):
      add(held.lockClass)
    case .irqUnsafeDependency(let held, let safe, _, _, let unsafe, _, _, _, _, _):
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
    default:
      break
    }
    if let lock = finding.lock { add(lock.lockClass) }
    return names
  }
}
