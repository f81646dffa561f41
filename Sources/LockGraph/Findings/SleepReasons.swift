/// Why a thread was atomic where it slept (`FindingDetail.sleepInAtomic`):
/// one line each, such as `interrupts disabled` or `holding raw_spinlock
/// &rq->lock`, read as a collection of strings.
///
/// A held lock's line keeps the class's display name as the class has it
/// (the same storage, not a copy) and is spelled out only when read: a
/// finding with a thousand locks held keeps a thousand references, not a
/// thousand copies of their names (a trace of one lock class named with a
/// megabyte, held 400 times, grew by 400 MB with each distinct
/// sleep-in-atomic finding).
///
/// Two reason lists are equal, and hash alike, when they read the same (as
/// two `String`s are equal: canonically equivalent).
public struct SleepReasons: RandomAccessCollection, Hashable, Sendable, ExpressibleByArrayLiteral {
  /// One reason, as kept.
  enum Reason: Sendable {
    /// A line as it reads.
    case line(String)
    /// `holding <kind> <name><suffix>`.
    case holding(kind: String, name: String, suffix: String)

    /// The line as it reads.
    var text: String {
      switch self {
      case .line(let text): text
      case .holding(let kind, let name, let suffix): "holding \(kind) \(name)\(suffix)"
      }
    }
  }

  /// The reasons, in the order the report lists them.
  private(set) var reasons: [Reason] = []

  /// No reason yet.
  init() {}

  /// Reasons that read as `lines`.
  public init(arrayLiteral lines: String...) { reasons = lines.map(Reason.line) }

  /// Reasons that read as `lines`.
  public init(_ lines: some Sequence<String>) { reasons = lines.map(Reason.line) }

  /// Adds a line as it reads.
  mutating func append(_ line: String) { reasons.append(.line(line)) }

  /// Adds `holding <kind> <name><suffix>`, keeping `name` as given.
  mutating func appendHolding(kind: String, name: String, suffix: String = "") {
    reasons.append(.holding(kind: kind, name: name, suffix: suffix))
  }

  /// The first reason's position.
  public var startIndex: Int { 0 }
  /// The position after the last reason.
  public var endIndex: Int { reasons.count }
  /// The reason at `position`, as it reads.
  public subscript(position: Int) -> String { reasons[position].text }

  /// Whether both read the same, line for line.
  public static func == (a: SleepReasons, b: SleepReasons) -> Bool {
    a.reasons.count == b.reasons.count
      && zip(a.reasons, b.reasons).allSatisfy { x, y in
        // Lines kept alike are compared part by part, not spelled out.
        switch (x, y) {
        case (.line(let p), .line(let q)) where p == q: true
        case (.holding(let k1, let n1, let s1), .holding(let k2, let n2, let s2))
        where k1 == k2 && n1 == n2 && s1 == s2:
          true
        default: x.text == y.text
        }
      }
  }

  /// Hashes the lines as they read (as `String` hashes them: lines that
  /// are canonically equivalent, which `==` takes as equal, hash alike).
  public func hash(into hasher: inout Hasher) {
    hasher.combine(reasons.count)
    for line in self { hasher.combine(line) }
  }
}
