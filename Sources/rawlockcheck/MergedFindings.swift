import Basics
import LockGraph
import Trace

/// The identity of a finding of merged traces across them: the same
/// finding in several traces (two shards running the same test, hundreds
/// of `%p` processes of one build) is one finding, counted in each, as it
/// is within one trace (`FindingStore.fold`, after each trace is read).
///
/// Two findings are the same when their kinds, the classes and states
/// they name, and their sites are: a site is the finding's stack (or
/// return address) as module offsets (its file, build-id and the offset
/// in it), which the processes of one build share wherever they were
/// loaded. A finding whose trace has no module map keeps its trace's
/// site, and merges with none of another trace's.
enum MergedFindings {
  /// The finding's identity across traces, and the identity a finding at
  /// its stack's first return address alone would have (`alias`: an event
  /// the recorder wrote with `ip=` only, where the live run took no stack
  /// as its chain was known, is the same finding); nil when its site is its
  /// trace's alone.
  static func key(of f: Finding, symbols: [TraceSymbols?]) -> (
    identity: [String], alias: [String]?
  )? {
    let t = Int(f.origin.trace)
    guard t >= 0, t < symbols.count, let trace = symbols[t], !trace.modules.isEmpty else {
      return nil
    }
    let addresses: [UInt64]
    // Each address's module: of the lines in force where the stack was
    // declared (a library mapped where another was is another site).
    let modules: [ModuleRecord?]
    if !f.origin.stack.isNone, Int(f.origin.stack.raw) < trace.stacks.count {
      addresses = trace.stacks[Int(f.origin.stack.raw)]
      modules = trace.modules(ofStack: Int(f.origin.stack.raw))
    } else if f.origin.ip != 0 {
      addresses = [f.origin.ip]
      modules = [trace.module(holding: f.origin.ip)]
    } else {
      return nil
    }
    var site: [String] = []
    for (address, module) in zip(addresses, modules) {
      guard let m = module else {
        return nil  // an address outside every module: this trace's alone
      }
      site.append("\(m.path) \(m.buildID ?? "") \(address &- m.start &+ m.fileOffset)")
    }
    var what = [f.kind.rawValue]
    what.append(f.lock.map { "lock \($0.lockClass.raw) \($0.read)" } ?? "")
    what += f.held.map { "held \($0.lockClass.raw) \($0.read)" }
    what.append(detail(f.detail))
    return (what + site, site.count > 1 ? what + [site[0]] : nil)
  }

  /// What a finding's detail names, without its origins and addresses
  /// (which are its trace's).
  static func detail(_ d: FindingDetail) -> String {
    switch d {
    case .invalidWaitContext(let context, let allowed, let required):
      "\(context) \(allowed) \(required)"
    case .circularDependency(let held, let chain):
      "\(held.lockClass.raw) " + chain.map { "\($0.lockClass.raw)" }.joined(separator: " ")
    case .recursiveLocking(let held): "\(held.lockClass.raw)"
    case .inconsistentLockState(let previous, let new, _, let state):
      "\(previous.rawValue) \(new.rawValue) \(state)"
    case .irqUnsafeDependency(
      let held, let safe, let safeBit, _, let unsafe, let unsafeBit, _, let safeToHeld,
      let lockToUnsafe, let state):
      "\(held.lockClass.raw) \(safe.raw) \(safeBit.rawValue) \(unsafe.raw) \(unsafeBit.rawValue) "
        + (safeToHeld + lockToUnsafe).map { "\($0.lockClass.raw)" }.joined(separator: " ")
        + " \(state)"
    case .irqInversion(let forwards, let other, let irqClass, let path):
      "\(forwards) \(other.raw) \(irqClass) "
        + path.map { "\($0.lockClass.raw)" }.joined(separator: " ")
    case .badUnlockBalance: ""
    case .heldLockFreed(_, _, _, let reinitialized): "\(reinitialized)"
    case .sleepInAtomic(let reasons, _): reasons.joined(separator: ",")
    case .locksHeldAtExit(let interrupt, let scope): "\(interrupt ?? "") \(scope ?? "")"
    case .nestedLockNotTaken(let nest): "\(nest.raw)"
    case .limitExceeded(let limit, let max, _): "\(limit) \(max)"
    }
  }
}
