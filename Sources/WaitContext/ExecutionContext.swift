/// Where code runs: the innermost execution context of a thread.
public enum ExecutionContext: Sendable, Hashable, CustomStringConvertible {
  /// A thread's own code (process context).
  case task
  /// A softirq (bottom half) handler.
  case softirq
  /// A hard interrupt handler; `threaded` when PREEMPT_RT would run it in a
  /// thread (`hardirq-enter threaded`, lockdep's `hardirq_threaded`).
  case hardirq(threaded: Bool)
  /// A non-maskable interrupt handler.
  case nmi

  /// The wait type this context allows, before any held lock lowers it
  /// (lockdep's `task_wait_context()`).
  ///
  /// NMI gives `free`: lockdep does not validate inside NMIs at all; this tool
  /// does, and in an NMI only wait-free primitives (RCU read side, trylocks)
  /// are safe, so a spinning lock there is an invalid wait context.
  public var waitLimit: WaitType {
    switch self {
    case .task: .task
    case .softirq: .config
    case .hardirq(let threaded): threaded ? .config : .spin
    case .nmi: .free
    }
  }

  /// A context in which nothing may sleep.
  public var isInterrupt: Bool {
    if case .task = self { return false }
    return true
  }

  /// The context as reports name it.
  public var description: String {
    switch self {
    case .task: "task"
    case .softirq: "softirq"
    case .hardirq(let threaded): threaded ? "hardirq (threaded)" : "hardirq"
    case .nmi: "nmi"
    }
  }
}
