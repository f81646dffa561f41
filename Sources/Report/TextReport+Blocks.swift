import Basics
import LockGraph
import WaitContext

extension TextReport {
  /// One finding as a lockdep-style block.
  public func render(_ f: Finding) -> String {
    var out: String
    switch f.detail {
    case .invalidWaitContext(let context, _, _):
      out = title(f.kind.title)
      out += trying("lock", f)
      out += "other info that might help us debug this:\n"
      let n = core.configuration.number(context)
      out += "context-{\(n):\(n)}\n"
      out += heldLocks(f.held, thread: f.thread)
      out += backtrace(f.origin)

    case .recursiveLocking(let held):
      out = title(f.kind.title)
      out += trying("acquire lock", f)
      out += "\nbut task is already holding lock:\n"
      out += lockLine(held)
      out += "\nother info that might help us debug this:\n"
      out += oneCPUScenario([
        "lock(\(name(held.lockClass)));", "lock(\(name(f.lock?.lockClass ?? held.lockClass)));",
      ])
      out += " May be due to missing lock nesting notation\n\n"
      out += heldAndBacktrace(f)

    case .circularDependency(let held, let chain):
      out = title(f.kind.title)
      out += trying("acquire lock", f)
      out += "\nbut task is already holding lock:\n"
      out += lockLine(held)
      out += "\nwhich lock already depends on the new lock.\n\n"
      out += "\nthe existing dependency chain (in reverse order) is:\n"
      for (i, link) in chain.enumerated() {
        out += "\n-> #\(chain.count - 1 - i) \(lockName(link.lockClass, usage: link.usage)):\n"
        out += stack(link.origin, indent: 7, numbered: false)
      }
      out += "\nother info that might help us debug this:\n\n"
      out += circularScenario(
        source: f.lock?.lockClass ?? held.lockClass, sourceRead: f.lock?.read ?? .exclusive,
        target: held.lockClass, targetRead: held.read,
        parent: chain.count >= 2 ? chain[1].lockClass : held.lockClass)
      out += heldAndBacktrace(f)

    case .inconsistentLockState(let previous, let new, let previousOrigin, let state):
      out = title(f.kind.title)
      out += "inconsistent {\(previous.usageString)} -> {\(new.usageString)} usage.\n"
      out += "\(thread(f.thread)) [\(state)] takes:\n"
      out += f.lock.map(lockLine) ?? ""
      out += "{\(previous.usageString)} state was registered at:\n"
      out += previousOrigin.map { stack($0, indent: 2, numbered: false) } ?? "  (unknown)\n"
      out += f.irqTrace.map(irqTraceEvents) ?? ""
      out += "\nother info that might help us debug this:\n"
      let lockClass = f.lock.map { name($0.lockClass) } ?? "?"
      out += oneCPUScenario(["lock(\(lockClass));", "<Interrupt>", "  lock(\(lockClass));"])
      out += heldAndBacktrace(f)

    case .irqUnsafeDependency(
      let held, let safe, _, let safeOrigin, let unsafe, _, let unsafeOrigin,
      let safeToHeld, let lockToUnsafe, let state):
      out = title(f.kind.title)
      out += "WARNING: \(state)-safe -> \(state)-unsafe lock order detected\n"
      out += "\(thread(f.thread)) [\(f.irqState)] is trying to acquire:\n"
      out += f.lock.map(lockLine) ?? ""
      out += "\nand this task is already holding:\n"
      out += lockLine(held)
      out += "which would create a new lock dependency:\n"
      out += " \(lockName(held.lockClass, usage: held.usage)) -> "
      out +=
        "\(lockName(f.lock?.lockClass ?? held.lockClass, usage: f.lock?.usage ?? held.usage))\n"
      out += "\nbut this new dependency connects a \(state)-irq-safe lock:\n"
      out += " \(lockName(safe, usage: f.usage(of: safe)))\n"
      out += "\n... which became \(state)-irq-safe at:\n"
      out += safeOrigin.map { stack($0, indent: 2, numbered: false) } ?? "  (unknown)\n"
      out += "\nto a \(state)-irq-unsafe lock:\n"
      out += " \(lockName(unsafe, usage: f.usage(of: unsafe)))\n"
      out += "\n... which became \(state)-irq-unsafe at:\n...\n"
      out += unsafeOrigin.map { stack($0, indent: 2, numbered: false) } ?? "  (unknown)\n"
      out += "\nother info that might help us debug this:\n\n"
      out += irqScenario(
        safe: safe, unsafe: unsafe, prev: held.lockClass, next: f.lock?.lockClass ?? held.lockClass)
      out += heldLocks(f.held, thread: f.thread)
      out += "\nthe dependencies between \(state)-irq-safe lock and the holding lock:\n"
      out += shortestDependencies(
        safeToHeld.reversed(), root: held.lockClass, usage: held.usage, at: nil)
      // Two lines, as print_bad_irq_dependency()'s two pr_warn() calls print.
      out += "\nthe dependencies between the lock to be acquired\n"
      out += " and \(state)-irq-unsafe lock:\n"
      out += shortestDependencies(
        lockToUnsafe, root: f.lock?.lockClass ?? held.lockClass, usage: f.lock?.usage,
        at: f.origin)
      out += "\n" + backtrace(f.origin)

    case .irqInversion(let forwards, let other, let irqClass, let path):
      out = title(f.kind.title)
      out += "\(thread(f.thread)) just changed the state of lock:\n"
      out += f.lock.map(lockLine) ?? ""
      out +=
        forwards
        ? "but this lock took another, \(irqClass)-unsafe lock in the past:\n"
        : "but this lock was taken by another, \(irqClass)-safe lock in the past:\n"
      out += " \(lockName(other, usage: f.usage(of: other)))\n"
      // `print_lock_name()` leaves its line open, and the next pr_warn()
      // starts with two newlines: two blank lines.
      out += "\n\nand interrupts could create inverse lock ordering between them.\n\n"
      out += "\nother info that might help us debug this:\n"
      // `print_irq_inversion_bug()`: the middle lock is the path's entry
      // next to the root (the lock whose state changed), either way.
      let root = f.lock?.lockClass ?? other
      let middle = path.first?.lockClass
      out +=
        forwards
        ? irqScenario(safe: root, unsafe: other, prev: middle ?? root, next: other)
        : irqScenario(safe: other, unsafe: root, prev: middle ?? other, next: root)
      out += heldLocks(f.held, thread: f.thread)
      out += "\nthe shortest dependencies between 2nd lock and 1st lock:\n"
      out += shortestDependencies(path, root: root, usage: f.lock?.usage, at: f.origin)
      out += "\n" + backtrace(f.origin)

    case .badUnlockBalance:
      out = title(f.kind.title)
      let lockClass = f.lock.map { mapName($0.lockClass) } ?? "?"
      out += "\(thread(f.thread)) is trying to release lock (\(lockClass)) at:\n"
      out += f.lock.map { at($0.origin) } ?? ""
      out += "\nbut there are no more locks to release!\n"
      out += "\nother info that might help us debug this:\n"
      out += heldAndBacktrace(f)

    case .heldLockFreed(let from, let to, let holder, let reinitialized):
      out = title(f.kind.title)
      // As `print_freed_lock_bug()` prints it: `%px-%px`.
      let range = "\(NumberText.pointer(from))-\(NumberText.pointer(to))"
      // A lock's init checks its own memory as a free does
      // (`debug_check_no_locks_freed()` in `__raw_spin_lock_init()`,
      // `__mutex_init()`, ...): the kernel's line either way.
      out += "\(thread(f.thread)) is freeing memory \(range), with a lock still held there!\n"
      out += f.lock.map(lockLine) ?? ""
      if reinitialized { out += "(the lock itself, re-initialized while it is held)\n" }
      if holder != f.thread { out += "held by \(thread(holder))\n" }
      out += heldAndBacktrace(f)

    case .sleepInAtomic(let reasons, let state):
      out = title(f.kind.title)
      // Why in words, then `__might_resched()`'s lines in its order, one
      // after another as there (the words between them broke that up).
      if let lock = f.lock {
        out += "\(thread(f.thread)) may sleep acquiring:\n" + lockLine(lock)
      } else {
        out += "\(thread(f.thread)) called a function that may sleep\n"
      }
      out += "but must not sleep:\n"
      // A reason may name a held class (`holding spinlock &zone->lock`):
      // printed escaped, as every name from a trace is.
      for reason in reasons { out += "  \(QuotedText.printable(reason))\n" }
      let atomic = state.preemptCount != 0
      let irqsOff =
        reasons.contains("interrupts disabled") || reasons.contains("in hardirq context")
        || reasons.contains("in NMI context")
      out +=
        "in_atomic(): \(atomic ? 1 : 0), irqs_disabled(): \(irqsOff ? 1 : 0), non_block: 0, pid: \(QuotedText.printable(core.threadToken(f.thread))), name: \(QuotedText.printable(core.threadName(f.thread)))\n"
      out += "preempt_count: \(String(state.preemptCount, radix: 16)), expected: 0\n"
      out += "RCU nest depth: \(state.rcuDepth), expected: \(state.rcuDepthExpected)\n"
      // The held locks, the irq event stamps when interrupts are off, and
      // where the preempt count left 0, one place at the line's start as
      // `print_ip_sym()` prints `preempt_disable_ip` (as the stamps and the
      // held locks' `at:` name theirs; `0x0` for a live context marker,
      // whose event has no place).
      out += heldLocks(f.held, thread: f.thread)
      out += f.irqTrace.map(irqTraceEvents) ?? ""
      if let disabledAt = state.preemptionDisabledAt {
        out += "Preemption disabled at:\n"
        out += isKnown(disabledAt) ? "\(at(disabledAt))\n" : "0x0\n"
      }
      out += backtrace(f.origin)

    case .locksHeldAtExit(let interrupt, let scope):
      out = title(f.kind.title)
      if let interrupt {
        out += "\(interrupt) handler of \(thread(f.thread)) returned with locks still held!\n"
      } else if let scope {
        // lockdep_sys_exit(): "... is leaving the kernel with locks still held!"
        out += "\(thread(f.thread)) is leaving \(scope) with locks still held!\n"
      } else {
        // print_held_locks_bug()'s title at a task's exit, which kernel
        // developers search for, under the spec's title; the held locks
        // follow at once, as there.
        out += "WARNING: \(thread(f.thread)) still has locks held!\n"
      }
      out += heldAndBacktrace(f)

    case .nestedLockNotTaken(let nest):
      out = title(f.kind.title)
      out += trying("lock", f)
      out += "\nbut this task is not holding:\n"
      out += "\(mapName(nest))\n"
      // print_lock_nested_lock_not_held() dumps the stack twice.
      out += "\n" + backtrace(f.origin)
      out += "\nother info that might help us debug this:\n"
      out += heldAndBacktrace(f)

    case .limitExceeded(let limit, let max, let consequence):
      // The kernel's title names the limit alone (`BUG: MAX_LOCK_DEPTH
      // too low!`), and its value on the next line (`depth: 48  max: 48!`).
      out = title("BUG: \(limit) too low!")
      out += "\(limit): \(max)\n"
      out += "\(thread(f.thread)): \(consequence)\n"
      out += heldLocks(f.held, thread: f.thread)
      out += "\n" + backtrace(f.origin)
    }
    if showsOccurrence { out += occurrence(f) }
    return out
  }

  /// `T is trying to <what>:` and the lock line.
  func trying(_ what: String, _ f: Finding) -> String {
    "\(thread(f.thread)) is trying to \(what):\n" + (f.lock.map(lockLine) ?? "")
  }

  /// The held locks, a blank line, and the stack: how most blocks end.
  func heldAndBacktrace(_ f: Finding) -> String {
    heldLocks(f.held, thread: f.thread) + "\n" + backtrace(f.origin)
  }

  /// lockdep's one-CPU scenario (`print_deadlock_scenario()`,
  /// `print_usage_bug_scenario()`): each of `steps` on CPU0, in order.
  func oneCPUScenario(_ steps: [String]) -> String {
    var out = " Possible unsafe locking scenario:\n\n"
    out += "       CPU0\n       ----\n"
    for step in steps { out += "  \(step)\n" }
    return out + "\n *** DEADLOCK ***\n\n"
  }

  /// lockdep's `print_circular_lock_scenario()`.
  func circularScenario(
    source: ClassID, sourceRead: ReadMode, target: ClassID, targetRead: ReadMode, parent: ClassID
  ) -> String {
    var out = ""
    if parent != source {
      out += "Chain exists of:\n  \(name(source)) --> \(name(parent)) --> \(name(target))\n\n"
    }
    out += " Possible unsafe locking scenario:\n\n"
    out += "       CPU0                    CPU1\n"
    out += "       ----                    ----\n"
    out += "  \(targetRead.isRead ? "rlock" : "lock")(\(name(target)));\n"
    out += "                               lock(\(name(parent)));\n"
    out += "                               lock(\(name(target)));\n"
    out += "  \(sourceRead.isRead ? "rlock" : "lock")(\(name(source)));\n"
    out += "\n *** DEADLOCK ***\n\n"
    return out
  }

  /// lockdep's `print_irq_lock_scenario()`.
  func irqScenario(safe: ClassID, unsafe: ClassID, prev: ClassID, next: ClassID) -> String {
    let middle = prev == safe ? next : prev
    var out = ""
    if middle != unsafe {
      out += "Chain exists of:\n  \(name(safe)) --> \(name(middle)) --> \(name(unsafe))\n\n"
    }
    out += " Possible interrupt unsafe locking scenario:\n\n"
    out += "       CPU0                    CPU1\n"
    out += "       ----                    ----\n"
    out += "  lock(\(name(unsafe)));\n"
    out += "                               local_irq_disable();\n"
    out += "                               lock(\(name(safe)));\n"
    out += "                               lock(\(name(middle)));\n"
    out += "  <Interrupt>\n"
    out += "    lock(\(name(safe)));\n"
    out += "\n *** DEADLOCK ***\n\n"
    return out
  }

  /// The most a dependency path's entry is indented by its depth.
  static let maxPathIndent = 32

  /// lockdep's `print_shortest_lock_dependencies()`: the classes of a
  /// search path from its far end back to its root, each indented by its
  /// depth, with its usage states and where each was first set
  /// (`print_lock_class_header()`), and where the dependency that led to it
  /// was recorded (`... acquired at:`; for the root, `rootOrigin`, the
  /// stack of the report). `path` runs from the entry next to the root to
  /// the far end, each with its dependency's stack. Each class's usage is
  /// as the finding saw it when known (its link's, and `usage` for the
  /// root), else as it is now.
  ///
  /// With `rootOrigin` nil, `print_shortest_lock_dependencies_backwards()`
  /// of a backwards search (`path` from the far end, the safe lock, to the
  /// entry next to the root): there each dependency's stack is that of
  /// the lock taken second, so it is printed under the class after it,
  /// the far end has none, and the report's own stack is not printed.
  func shortestDependencies(
    _ path: some BidirectionalCollection<ChainLink>, root: ClassID, usage: UsageMask?,
    at rootOrigin: Origin?
  ) -> String {
    var out = ""
    var entries: [(ClassID, Origin?, UsageMask?)] = path.reversed().map {
      ($0.lockClass, $0.origin, $0.usage)
    }
    entries.append((root, rootOrigin, usage))
    if rootOrigin == nil {
      // Each stack one entry on: the far end's goes to the class after it.
      for i in stride(from: entries.count - 1, to: 0, by: -1) { entries[i].1 = entries[i - 1].1 }
      entries[0].1 = nil
    }
    for (i, (lockClass, origin, snapshot)) in entries.enumerated() {
      // Indented by its depth, as lockdep does, up to `maxPathIndent`: a
      // path of thousands of links would print its square in spaces.
      let depthCount = min(entries.count - 1 - i, Self.maxPathIndent)
      let depth = String(repeating: " ", count: depthCount)
      let usage = snapshot ?? core.classes[lockClass].usage
      out += "\(depth)-> \(lockName(lockClass, usage: usage)) {\n"
      for bit in UsageBit.allCases where usage.contains(UsageMask(rawValue: 1 << bit.rawValue)) {
        let label = "\(depth)   \(bit.usageString) at:"
        // `print_lock_class_header()` indents the stack by 1 + `len`,
        // which counts the depth twice (`len = depth` plus what printk()
        // printed, the indent included) and the label without its newline.
        let indent = 1 + depthCount + label.count
        out += label + "\n"
        out +=
          core.usageOrigin(lockClass, bit: bit).map {
            stack($0, indent: indent, numbered: false)
          } ?? "\(String(repeating: " ", count: indent))(unknown)\n"
      }
      out += "\(depth) }\n"
      guard let origin else { continue }
      out += "\(depth) ... acquired at:\n"
      out += stack(origin, indent: 3, numbered: false) + "\n"
    }
    return out
  }

  /// Whether `origin` says where its event happened: a trace's event has
  /// its place in the stream, a live context marker its call site; a
  /// signal handler's own entry and exit have neither.
  func isKnown(_ origin: Origin) -> Bool {
    showsOccurrence || origin.ip != 0 || !origin.stack.isNone || origin.line > 0
  }

  /// lockdep's `print_irqtrace_events()`: the thread's count of interrupt
  /// state changes, and where the newest of each kind happened (`0x0`, as
  /// lockdep prints an unknown address: none yet, or a live event with no
  /// call site, such as a signal handler's entry).
  func irqTraceEvents(_ trace: IrqTrace) -> String {
    func line(_ what: String, _ change: IrqTrace.Change) -> String {
      let known = change.stamp != 0 && isKnown(change.origin)
      return "\(what) at (\(change.stamp)): \(known ? at(change.origin) : "0x0")\n"
    }
    return "irq event stamp: \(trace.events)\n"
      + line("hardirqs last  enabled", trace.hardirqsEnabled)
      + line("hardirqs last disabled", trace.hardirqsDisabled)
      + line("softirqs last  enabled", trace.softirqsEnabled)
      + line("softirqs last disabled", trace.softirqsDisabled)
  }
}
