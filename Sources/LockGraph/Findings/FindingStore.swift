/// Distinct findings in the order first seen, each with a count, up to a
/// fixed number of them.
///
/// Invariants: two findings are the same when they have the same kind, the
/// same classes and the same site (stack, else return address); the store
/// keeps the first and counts the rest. At most `capacity` distinct
/// findings are kept (as Valgrind keeps 1,000 distinct errors; lockdep
/// stops at the first): past them, one `limit-exceeded` finding counts
/// every occurrence of a finding not kept, so that a run with endless
/// distinct problems (a cycle through each of thousands of class pairs,
/// each path a hundred links long) stays in bounded memory. A finding's
/// size grows with its dependency chains and held locks, so the kept
/// findings' links and held locks together are bounded too
/// (`linkCapacity`): a long chain closed again and again (a chain of
/// 60,000 classes, each of 1,200 edges closing a cycle along it) would
/// otherwise keep a thousand copies of it.
public struct FindingStore: Sendable {
  struct Key: Hashable {
    var kind: FindingKind
    var classes: [ClassID]
    var site: UInt64
    /// `FindingDetail.storeVariant`.
    var variant: UInt32

    func hash(into hasher: inout Hasher) {
      hasher.combine(kind)
      hasher.combine(site)
      hasher.combine(variant)
      hasher.combine(classes)
    }
  }

  /// Counts one more occurrence of the finding of `kind`, `origin`'s site,
  /// `classes` and `variant` when the store has it (or is full: the
  /// overflow's), and returns its index; nil, counting nothing, when it is
  /// new.
  mutating func countIfKnown(
    _ kind: FindingKind, origin: Origin, classes: [ClassID], variant: UInt32 = 0
  ) -> Int? {
    let key = Key(kind: kind, classes: classes, site: origin.siteKey, variant: variant)
    if let last, last.key == key {
      findings[last.index].count += 1
      return last.index
    }
    if let i = index[key] {
      findings[i].count += 1
      last = (key, i)
      return i
    }
    if let o = overflow {
      findings[o].count += 1
      return o
    }
    return nil
  }

  /// Where the finding of `kind`, site key `site`, `classes` and
  /// `variant` is counted (the overflow's once the store is full and it is
  /// not kept), counting nothing; nil when it would be new.
  func index(_ kind: FindingKind, site: UInt64, classes: [ClassID], variant: UInt32) -> Int? {
    let key = Key(kind: kind, classes: classes, site: site, variant: variant)
    if let last, last.key == key { return last.index }
    return index[key] ?? overflow
  }

  /// The most distinct findings kept.
  public static let capacity = 1_000
  /// The most dependency links and held locks the kept findings hold in
  /// all (about 100 MiB of them).
  public static let linkCapacity = 1 << 21
  /// The kept findings' links and held locks (`Finding.links`).
  private var linksKept = 0

  /// The distinct findings, in the order they were first recorded (and
  /// the `limit-exceeded` one that counts those not kept, once there are).
  public private(set) var findings: [Finding] = []
  private var index: [Key: Int] = [:]
  /// Where in `findings` the count of findings not kept is.
  private var overflow: Int? = nil
  /// The key last looked up and where its finding is: a buggy path taken
  /// again and again repeats one finding, found by comparing keys rather
  /// than hashing one.
  private var last: (key: Key, index: Int)? = nil

  /// An empty store.
  public init() {}

  /// Records one occurrence of `finding`, about `classes`.
  /// - Returns: the finding as the store keeps it (with its count so far):
  ///   `finding` itself, or, once `capacity` distinct findings are kept and
  ///   `finding` is not one of them, the `limit-exceeded` finding that
  ///   counts it; and whether that is new.
  @discardableResult
  mutating func record(_ finding: Finding, classes: [ClassID]) -> (
    finding: Finding, isNew: Bool
  ) {
    record(
      finding.kind, origin: finding.origin, classes: classes,
      variant: finding.detail.storeVariant
    ) { finding }
  }

  /// `record(_:classes:)` of a finding of `kind` at `origin` that `make`
  /// builds only when the store keeps it or it is the first past the
  /// capacity: a repeat (a buggy path taken a million times) costs a
  /// lookup, not a description of the held locks and interrupt state.
  mutating func record(
    _ kind: FindingKind, origin: Origin, classes: [ClassID], variant: UInt32 = 0,
    _ make: () -> Finding
  ) -> (finding: Finding, isNew: Bool) {
    let (i, isNew) = recordIndex(
      kind, origin: origin, classes: classes, variant: variant, make)
    return (findings[i], isNew)
  }

  /// `record(_:origin:classes:_:)`, returning where in `findings` the
  /// finding that counts the occurrence is: a repeat copies no finding.
  mutating func recordIndex(
    _ kind: FindingKind, origin: Origin, classes: [ClassID], variant: UInt32 = 0,
    _ make: () -> Finding
  ) -> (index: Int, isNew: Bool) {
    if let i = countIfKnown(kind, origin: origin, classes: classes, variant: variant) {
      return (i, false)
    }
    let key = Key(kind: kind, classes: classes, site: origin.siteKey, variant: variant)
    let finding = make()
    let links = finding.links
    if index.count >= Self.capacity || linksKept + links > Self.linkCapacity {
      let limit = Finding(
        kind: .limitExceeded, thread: finding.thread, origin: finding.origin, lock: nil,
        held: [],
        detail: .limitExceeded(
          limit: "MAX_FINDINGS", max: Self.capacity,
          consequence:
            "a distinct finding past the first \(Self.capacity) (or past "
            + "\(Self.linkCapacity) dependency links and held locks kept in all) is not kept: "
            + "each occurrence of one is counted here"),
        count: 1, irqState: finding.irqState)
      overflow = findings.count
      findings.append(limit)
      return (findings.count - 1, true)
    }
    index[key] = findings.count
    last = (key, findings.count)
    linksKept += links
    var first = finding
    first.count = 1
    first.storeClasses = classes
    findings.append(first)
    return (findings.count - 1, true)
  }

  /// Folds each finding recorded since `start` (a count of `findings`)
  /// that `key` says is one kept before (`keys`: each kept finding's key
  /// and place) into that one: its count added, itself dropped, so that
  /// it does not count towards `capacity`. Merged traces (`report
  /// --merge`) fold each trace's findings once it is read: their sites are
  /// their traces' own, and hundreds of one build's traces, each with the
  /// same two findings, passed the capacity with two findings. `key` nil:
  /// never folded. A kept finding's `alias` is registered too: a finding
  /// at a single return address (`ip=`, what an event carries where the
  /// recorder took no stack) folds into the first one whose stack starts
  /// there, and in the other order a finding at a stack folds into a kept
  /// one at its first return address alone (one with no stack), which is
  /// then kept at that stack; two stacks that only start alike stay apart,
  /// in either order. The findings of a folded site are not looked up
  /// again (their trace is read), so their index entries go.
  public mutating func fold(
    recordedSince start: Int, into keys: inout [[String]: Int],
    key: (Finding) -> (identity: [String], alias: [String]?)?
  ) {
    guard start < findings.count else { return }
    var moved = [Int](repeating: -1, count: findings.count - start)
    var kept = Array(findings[..<start])
    for i in start..<findings.count {
      let f = findings[i]
      if i != overflow, let k = key(f) {
        if let j = keys[k.identity] {
          kept[j].count += f.count
          continue
        }
        if let alias = k.alias, let j = keys[alias], kept[j].origin.stack.isNone {
          // Kept at its stack from now on: a later stack that only starts
          // alike is another finding, as in the other order.
          var stacked = f
          stacked.count += kept[j].count
          kept[j] = stacked
          keys[k.identity] = j
          continue
        }
        keys[k.identity] = kept.count
        if let alias = k.alias, keys[alias] == nil { keys[alias] = kept.count }
      }
      moved[i - start] = kept.count
      kept.append(f)
    }
    findings = kept
    index = index.compactMapValues { i in
      i < start ? i : (moved[i - start] >= 0 ? moved[i - start] : nil)
    }
    if let o = overflow, o >= start { overflow = moved[o - start] }
    last = nil
    linksKept = findings.reduce(0) { $0 + $1.links }
  }

  /// The number of distinct findings.
  public var count: Int { findings.count }

  /// Distinct findings per kind.
  public var summary: [FindingKind: Int] {
    var result: [FindingKind: Int] = [:]
    for f in findings { result[f.kind, default: 0] += 1 }
    return result
  }
}

extension Finding {
  /// What the finding holds that grows with the program: its dependency
  /// chains' links and its held locks (`FindingStore.linkCapacity`).
  var links: Int {
    var n = held.count
    switch detail {
    case .circularDependency(_, let chain): n += chain.count
    case .irqUnsafeDependency(_, _, _, _, _, _, _, let safeToHeld, let lockToUnsafe, _):
      n += safeToHeld.count + lockToUnsafe.count
    case .irqInversion(_, _, _, let path): n += path.count
    default: break
    }
    return n
  }
}
