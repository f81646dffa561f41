/// A thread's memo of its recent acquisitions whose chain validation
/// produced findings and changed nothing else: a lock-order inversion or an
/// irq inversion taken again and again (a buggy path in a hot loop).
///
/// Such a chain is never cached (`validateNewChain`), so that each
/// occurrence is counted; without this memo each one repeated the whole
/// validation (the dependency walk, the search's answer lookup, the
/// finding's related classes built, its key hashed), about a microsecond a
/// repeat against a few nanoseconds for a clean chain. A repeat found here
/// counts the same findings the validation would count, and nothing else.
///
/// Invariants: an entry is kept only for a validation that reported every
/// finding at the acquisition's own site, with the graph's `version` the
/// same before and after it (no dependency or usage bit added); it applies
/// only while the graph's version is still that one, to an acquisition of
/// the same shape (`shape`: the held locks and the new lock, every field
/// the recursion, dependency and irq checks read) at the same site. The
/// checks read nothing else that changes (the graph only grows, each change
/// counted in `version`), so a validation run again would report exactly
/// the same findings. A finding the store no longer has makes the replay
/// decline, and the validation runs (none is expected: `report --merge`
/// folds findings of other traces, whose sites are their own; a guard).
struct FindingReplay {
  /// One finding a validation reported, as its store keys it.
  struct Occurrence {
    var kind: FindingKind
    var classes: [ClassID]
    var variant: UInt32
    var site: UInt64
  }

  struct Entry {
    var shape: UInt64
    var site: UInt64
    var version: Int
    var occurrences: [Occurrence]
  }

  /// The most acquisitions remembered (a loop may alternate a few).
  static let capacity = 4

  private(set) var entries: [Entry] = []
  private var next = 0
  /// While a chain is validated: the findings it reported so far.
  private(set) var isRecording = false
  private var recorded: [Occurrence] = []

  /// The findings of the acquisition of `shape` at `site` remembered for
  /// the graph at `version`; nil when there are none.
  func occurrences(shape: UInt64, site: UInt64, version: Int) -> [Occurrence]? {
    for e in entries where e.shape == shape && e.site == site && e.version == version {
      return e.occurrences
    }
    return nil
  }

  /// Starts recording a chain validation's findings.
  mutating func beginRecording() {
    isRecording = true
    if !recorded.isEmpty { recorded.removeAll(keepingCapacity: true) }
  }

  /// Notes one finding reported while recording.
  mutating func record(_ kind: FindingKind, classes: [ClassID], variant: UInt32, site: UInt64) {
    recorded.append(Occurrence(kind: kind, classes: classes, variant: variant, site: site))
  }

  /// Ends recording and keeps what was recorded for an acquisition of
  /// `shape` at `site`, when `keep` (the graph did not change) and every
  /// finding was at `site`.
  mutating func endRecording(keep: Bool, shape: UInt64, site: UInt64, version: Int) {
    isRecording = false
    guard keep, !recorded.isEmpty, recorded.allSatisfy({ $0.site == site }) else { return }
    let entry = Entry(shape: shape, site: site, version: version, occurrences: recorded)
    if entries.count < Self.capacity {
      entries.append(entry)
    } else {
      entries[next] = entry
      next = (next + 1) % Self.capacity
    }
  }
}

extension FindingReplay {
  /// The fields of `held` and of `lock` that a chain validation reads,
  /// hashed with the chain key: for each held lock its class, nest lock,
  /// read mode, trylock and check flags, interrupt context and state, and
  /// whether it is the running task's own (`ThreadState.holdsOwn`: all
  /// are unless `forced`, inside a forced-threaded handler); whether
  /// `lock` begins its context's chain.
  static func shape(
    of lock: HeldLock, held: HeldStack, forced: Bool, key: UInt64, chainHead: Bool
  ) -> UInt64 {
    let fields =
      HeldLock.checkBit | HeldLock.trylockBit | HeldLock.hardirqsOffBit | 3 << HeldLock.readShift
      | 0xFF << HeldLock.irqContextShift
    func mix(_ h: UInt64, _ v: UInt64) -> UInt64 {
      var x = (h ^ v) &* 0x9E37_79B9_7F4A_7C15
      x ^= x >> 29
      return x
    }
    func fold(_ h: UInt64, _ l: HeldLock, own: Bool) -> UInt64 {
      let classes =
        UInt64(UInt32(bitPattern: l.lockClass.raw)) | UInt64(UInt32(bitPattern: l.nest.raw)) << 32
      return mix(mix(h, classes), l.bits & fields | (own ? 1 << 63 : 0))
    }
    var h = mix(key, chainHead ? 1 : 2)
    for i in 0..<held.count {
      let l = held[i]
      h = fold(h, l, own: !forced || l.irqContext & IRQContextID.forcedThread != 0)
    }
    return fold(h, lock, own: true)
  }
}

extension ThreadValidator {
  /// `FindingReplay.shape` of an acquisition of `lock` reaching chain key
  /// `key` (a static function: a method of this large value, called from
  /// a mutating one, would copy it).
  mutating func replayShape(_ lock: HeldLock, key: UInt64, chainHead: Bool) -> UInt64 {
    FindingReplay.shape(
      of: lock, held: state.held, forced: state.forcedThreadDepth != 0, key: key,
      chainHead: chainHead)
  }

  /// Counts again the findings a validation of `lock`'s chain reported
  /// before, when `replay` remembers them for this shape, site and graph;
  /// returns whether it did (nothing else is then to be done).
  mutating func replayFindings(
    _ lock: HeldLock, key: UInt64, chainHead: Bool, in s: inout SharedState
  ) -> Bool {
    guard reacquiredAt == nil else { return false }
    let site = lock.origin.siteKey
    guard
      let occurrences = replay.occurrences(
        shape: replayShape(lock, key: key, chainHead: chainHead), site: site,
        version: s.graph.version)
    else { return false }
    // Every one must still be in the store: none is counted otherwise.
    for o in occurrences {
      guard
        s.findings.index(o.kind, site: site, classes: o.classes, variant: o.variant) != nil
      else { return false }
    }
    producedFinding = true
    for o in occurrences {
      guard
        let i = s.findings.countIfKnown(
          o.kind, origin: lock.origin, classes: o.classes, variant: o.variant)
      else { continue }
      if core.onFinding != nil { pending.append((s.findings.findings[i], false)) }
    }
    return true
  }
}
