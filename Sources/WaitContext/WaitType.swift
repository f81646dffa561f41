import Basics

/// How long a lock may make its caller wait, in lockdep's order of strictness.
///
/// The raw values are the numbers lockdep prints with
/// `CONFIG_PROVE_RAW_LOCK_NESTING` on, in `-{OUTER:INNER}` and `context-{N:N}`.
/// `task` is `LD_WAIT_MAX`: the limit of plain task context, which no lock has.
///
/// Invariant: a greater value waits longer; the wait-context rule compares
/// raw values only.
public enum WaitType: UInt8, Sendable, Comparable, CaseIterable, CustomStringConvertible {
  /// Never checked (`LD_WAIT_INV`), e.g. SRCU.
  case inv = 0
  /// Wait-free (`LD_WAIT_FREE`): the RCU read side.
  case free = 1
  /// Spins, never sleeps (`LD_WAIT_SPIN`): `raw_spinlock_t`.
  case spin = 2
  /// Spins, but sleeps on PREEMPT_RT (`LD_WAIT_CONFIG`): `spinlock_t`.
  case config = 3
  /// Sleeps (`LD_WAIT_SLEEP`): mutexes and semaphores.
  case sleep = 4
  /// The limit of task context (`LD_WAIT_MAX`); never a lock's type.
  case task = 5

  /// Whether `lhs` is stricter than `rhs` (lower: fewer waits allowed).
  public static func < (lhs: WaitType, rhs: WaitType) -> Bool { lhs.rawValue < rhs.rawValue }

  /// The spelling used in traces (`inv`, `free`, `spin`, `config`, `sleep`).
  public var description: String {
    switch self {
    case .inv: "inv"
    case .free: "free"
    case .spin: "spin"
    case .config: "config"
    case .sleep: "sleep"
    case .task: "task"
    }
  }

  /// Parses a trace spelling, or its number (`0` to `4`, as the spec numbers
  /// them; decimal or `0x` hexadecimal, as a trace's numbers); `task` (5)
  /// is not a lock's wait type and is rejected.
  public init?(traceName: some StringProtocol) {
    switch traceName {
    case "inv": self = .inv
    case "free": self = .free
    case "spin": self = .spin
    case "config": self = .config
    case "sleep": self = .sleep
    default:
      guard let value = NumberText.parse(traceName.utf8), value < WaitType.task.rawValue else {
        return nil
      }
      self.init(rawValue: UInt8(value))
    }
  }
}
