import Testing
import WaitContext

@Suite struct LockKindTableTests {
  /// The table of spec/trace-format.md, copied by hand: kind, inner, outer, lock type.
  static let spec: [(String, WaitType, WaitType, LockType)] = [
    ("raw_spinlock", .spin, .spin, .normal),
    ("spinlock", .config, .config, .normal),
    ("rwlock", .config, .config, .normal),
    ("local_lock", .config, .config, .percpu),
    ("mutex", .sleep, .sleep, .normal),
    ("rwsem", .sleep, .sleep, .normal),
    ("rt_mutex", .sleep, .sleep, .normal),
    ("rcu", .config, .free, .normal),
    ("rcu_bh", .config, .free, .normal),
    ("rcu_sched", .spin, .free, .normal),
    ("srcu", .inv, .inv, .normal),
  ]

  @Test func everyFixedKindMatchesTheSpec() throws {
    for (name, inner, outer, type) in Self.spec {
      let kind = try #require(LockKind(rawValue: name))
      let waits = try ClassWaitTypes(kind: kind)
      #expect(waits.inner == inner, "\(name)")
      #expect(waits.effectiveOuter == outer, "\(name)")
      #expect(waits.lockType == type, "\(name)")
    }
    #expect(LockKind.allCases.count == Self.spec.count + 2)
  }

  @Test func rcuKindsAreRecursiveReadsWithoutChecks() {
    let rcu = LockKind.allCases.filter(\.row.isRCU).map(\.rawValue)
    #expect(Set(rcu) == ["rcu", "rcu_bh", "rcu_sched", "srcu"])
  }

  @Test func givenKindsNeedInner() throws {
    #expect(throws: ClassWaitTypes.ResolutionError.innerRequired(.custom)) {
      try ClassWaitTypes(kind: .custom)
    }
    #expect(throws: ClassWaitTypes.ResolutionError.innerRequired(.waitOverride)) {
      try ClassWaitTypes(kind: .waitOverride)
    }
    let ovr = try ClassWaitTypes(kind: .waitOverride, inner: .sleep)
    #expect(ovr.lockType == .override && ovr.effectiveOuter == .sleep)
    let custom = try ClassWaitTypes(kind: .custom, inner: .sleep, outer: .spin, lockType: .percpu)
    #expect(custom.effectiveOuter == .spin && custom.lockType == .percpu)
    #expect(throws: ClassWaitTypes.ResolutionError.lockTypeFixed(.mutex)) {
      try ClassWaitTypes(kind: .mutex, lockType: .percpu)
    }
  }

  /// The kernel's initializers set `wait_type_inner` only (outer 0, which
  /// lockdep reads as the inner), except RCU's maps, which set both: an
  /// `inner=` moves the outer of the first and keeps the second's.
  @Test func innerOverrideMovesAnUnsetOuterOnly() throws {
    for kind in LockKind.allCases where kind.row.inner != nil {
      let waits = try ClassWaitTypes(kind: kind, inner: .spin)
      let expected = kind.row.isRCU && kind != .srcu ? WaitType.free : .spin
      #expect(waits.effectiveOuter == expected, "\(kind)")
      #expect(try ClassWaitTypes(kind: kind, inner: .spin, outer: .sleep).effectiveOuter == .sleep)
    }
  }

  /// An outer of `inv` is lockdep's 0, "unset": checked and printed as
  /// the inner (`check_wait_context()`: `if (!next_outer) next_outer =
  /// next_inner;`), as a converter copying a `lockdep_map` writes it.
  @Test func anOuterOfInvMeansTheInner() throws {
    let waits = try ClassWaitTypes(kind: .custom, inner: .sleep, outer: .inv)
    #expect(waits.effectiveOuter == .sleep)
    #expect(ClassWaitTypes(inner: .config, outer: .inv).effectiveOuter == .config)
    let verdict = WaitContextRule.check(
      acquiring: waits, isTrylock: false, allowed: .spin, configuration: CheckConfiguration())
    #expect(verdict?.isValid == false)
  }

  @Test func traceSpellingsRoundTrip() {
    for w in WaitType.allCases where w != .task {
      #expect(WaitType(traceName: w.description) == w)
    }
    #expect(WaitType(traceName: "task") == nil)
    // The spec's numbers: lockdep's with PROVE_RAW_LOCK_NESTING on.
    #expect(
      ["0", "1", "2", "3", "4"].map { WaitType(traceName: $0) } == [
        .inv, .free, .spin, .config, .sleep,
      ])
    #expect(WaitType(traceName: "5") == nil)
    #expect(WaitType(traceName: "0x2") == .spin)
    #expect(WaitType(traceName: "0X4") == .sleep)
    #expect(WaitType(traceName: "02") == .spin)  // decimal, as a trace's numbers
    for refused in ["0x", "+2", "-1", "2 ", "0x5", "256", "sleepy", ""] {
      #expect(WaitType(traceName: refused) == nil, "\(refused)")
    }
    for t in LockType.allCases { #expect(LockType(traceName: t.description) == t) }
  }
}

@Suite struct WaitContextRuleTests {
  static let contexts: [ExecutionContext] = [
    .task, .softirq, .hardirq(threaded: false), .hardirq(threaded: true), .nmi,
  ]

  @Test func contextLimits() {
    #expect(Self.contexts.map(\.waitLimit) == [.task, .config, .spin, .config, .free])
  }

  /// Every context, every held sequence of up to two locks of every wait
  /// type and lock type, every acquired outer type, both configurations,
  /// against the rule as DESIGN.md states it, written out longhand.
  @Test func exhaustiveAgainstTheStatedRule() {
    let waits: [WaitType] = [.inv, .free, .spin, .config, .sleep]
    let types: [LockType] = [.normal, .percpu, .override]
    var holders: [[(inner: WaitType, lockType: LockType)]] = [[]]
    for w in waits { for t in types { holders.append([(w, t)]) } }
    for a in waits {
      for ta in types {
        for b in waits {
          for tb in types {
            holders.append([(a, ta), (b, tb)])
          }
        }
      }
    }
    var checked = 0
    for raw in [true, false] {
      let config = CheckConfiguration(proveRawLockNesting: raw)
      func level(_ w: WaitType) -> UInt8 { !raw && w == .config ? 2 : w.rawValue }
      for context in Self.contexts {
        for held in holders {
          var expected = level(context.waitLimit)
          for h in held where h.inner != .inv {
            expected = h.lockType == .override ? level(h.inner) : min(expected, level(h.inner))
          }
          let allowed = WaitContextRule.allowed(
            contextLimit: context.waitLimit, held: held, configuration: config)
          #expect(allowed.rawValue == expected)
          for outer in waits where outer != .inv {
            let lock = ClassWaitTypes(inner: outer)
            let verdict = WaitContextRule.check(
              acquiring: lock, isTrylock: false, allowed: allowed, configuration: config)
            #expect(verdict?.isValid == (level(outer) <= expected))
            #expect(
              WaitContextRule.check(
                acquiring: lock, isTrylock: true, allowed: allowed, configuration: config) == nil)
            checked += 1
          }
        }
      }
    }
    #expect(checked == 2 * 5 * (1 + 15 + 225) * 4)
  }

  @Test func invClassesAreNeverChecked() {
    let v = WaitContextRule.check(
      acquiring: ClassWaitTypes(inner: .inv), isTrylock: false, allowed: .free,
      configuration: CheckConfiguration())
    #expect(v == nil)
  }
}

@Suite struct SleepRuleTests {
  @Test func sleepingLocksAndAtomicHolders() throws {
    let normal = CheckConfiguration()
    let rt = CheckConfiguration(preemptRT: true)
    func w(_ k: LockKind) throws -> ClassWaitTypes { try ClassWaitTypes(kind: k) }
    #expect(SleepRule.sleeps(try w(.mutex), configuration: normal))
    #expect(!SleepRule.sleeps(try w(.spinlock), configuration: normal))
    #expect(SleepRule.sleeps(try w(.spinlock), configuration: rt))
    #expect(!SleepRule.sleeps(try w(.rcu), configuration: rt))
    #expect(!SleepRule.sleeps(try w(.rawSpinlock), configuration: rt))
    #expect(SleepRule.makesAtomic(try w(.rawSpinlock), configuration: rt))
    #expect(SleepRule.makesAtomic(try w(.rcuSched), configuration: rt))
    #expect(SleepRule.makesAtomic(try w(.spinlock), configuration: normal))
    #expect(!SleepRule.makesAtomic(try w(.spinlock), configuration: rt))
    #expect(!SleepRule.makesAtomic(try w(.mutex), configuration: normal))
    #expect(!SleepRule.makesAtomic(try w(.srcu), configuration: normal))
  }
}
