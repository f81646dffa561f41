import LockGraph
import Lockdep
import Symbolizer
import Testing

#if canImport(Glibc)
  import Glibc
#endif

/// A value guarded by a lock of a class another held lock has (two accounts
/// of one type locked for a transfer) is reached as the kernel nests such
/// locks: at a subclass (`mutex_lock_nested()`), or under a nest lock that
/// serializes them (`mutex_lock_nest_lock()`). Without either, lockdep
/// reports recursive locking (`check_deadlock()`); with one, nothing. (An
/// independent trial porting real bugs found no way to annotate the fix of
/// a transfer with `Protected` before 2026-12-07.)
@Suite struct NestedProtectedTests {
  init() { LockValidation.policy = .collect }

  final class Account: Sendable {
    let balance: Protected<Checked.Mutex, Int>
    init(_ amount: Int) {
      balance = Protected(
        amount, by: Checked.Mutex(name: "&account->lock", key: LockClassKey("nested.account")))
    }
  }

  /// The findings `body` causes on a thread of its own.
  func findings(_ body: @escaping @Sendable () -> Void) -> [LockValidationScope.Occurrence] {
    let scope = LockValidationScope()
    pthread_join(spawn { scope.run(body) }, nil)
    return scope.findings
  }

  /// The line of the acquisition a finding's report names first (its
  /// `at:`, the site the validator recorded), not a line anywhere in its
  /// stacks.
  func siteLine(_ finding: LockValidationScope.Occurrence) -> Int? {
    guard let at = finding.text.split(separator: "\n").first(where: { $0.contains(", at: ") }),
      let colon = at.lastIndex(of: ":")
    else { return nil }
    return Int(at[at.index(after: colon)...].dropLast())
  }

  @Test func aSecondAccountAtSubclassOneIsNoRecursion() {
    let (a, b) = (Account(10), Account(0))
    let line = #line + 3
    let plain = findings {
      a.balance.withLock { from in
        b.balance.withLock { to in
          from -= 1
          to += 1
        }
      }
    }
    #expect(plain.map(\.kind) == [.recursiveLocking])
    // Reported at the inner call's own line.
    #expect(plain.first.flatMap(siteLine) == line)
    let nested = findings {
      a.balance.withLock { from in
        b.balance.withLock(subclass: 1) { to in
          from -= 1
          to += 1
        }
      }
    }
    #expect(nested.isEmpty, "\(nested.map(\.text))")
    #expect(a.balance.withLock { $0 } == 8 && b.balance.withLock { $0 } == 2)
  }

  @Test func accountsUnderANestLockAreNoRecursion() {
    let (a, b) = (Account(10), Account(0))
    let all = Checked.Mutex(name: "&bank->transfers", key: LockClassKey("nested.bank"))
    let underNest = findings {
      all.withLock {
        a.balance.withLock(nestLock: all) { from in
          b.balance.withLock(nestLock: all) { to in
            from -= 1
            to += 1
          }
        }
      }
    }
    #expect(underNest.isEmpty, "\(underNest.map(\.text))")
    // The nest lock must be held (`print_lock_nested_lock_not_held()`).
    let notHeld = findings {
      a.balance.withLock(nestLock: all) { $0 -= 1 }
    }
    #expect(notHeld.map(\.kind) == [.nestedLockNotTaken])
  }

  /// `lock(subclass:)` and `lock(nestLock:)` record their caller's line,
  /// as `lock()` does (one implementation with the `from:` forms).
  @Test func nestedLockCallsRecordTheirCallersLine() {
    let raw = Checked.RawSpinLock(name: "&site->raw", key: LockClassKey("nested.raw"))
    let inner = Checked.Mutex(name: "&site->inner", key: LockClassKey("nested.inner"))
    let nest = Checked.Mutex(name: "&site->nest", key: LockClassKey("nested.nest"))
    let subclassLine = #line + 3
    let underRaw = findings {
      raw.lock()
      inner.lock(subclass: 1)
      inner.unlock()
      raw.unlock()
    }
    #expect(underRaw.first { $0.kind == .invalidWaitContext } != nil)
    #expect(
      underRaw.first { $0.kind == .invalidWaitContext }.flatMap(siteLine) == subclassLine,
      "\(underRaw.map(\.text))")
    let nestLine = #line + 2
    let notHeld = findings {
      inner.lock(nestLock: nest)
      inner.unlock()
    }
    #expect(notHeld.map(\.kind) == [.nestedLockNotTaken])
    #expect(
      notHeld.first.flatMap(siteLine) == nestLine,
      "\(notHeld.map(\.text))")
    // The form generic over `KernelLock` records its own caller's line
    // too, for a validated nest lock and for one that is not.
    @Sendable func lockNested(_ lock: Checked.Mutex, under nest: some KernelLock) {
      lock.lock(nestLock: nest)  // genericNestLine
    }
    let genericNestLine = #line - 2
    let genericNotHeld = findings {
      lockNested(inner, under: nest)
      inner.unlock()
    }
    #expect(genericNotHeld.map(\.kind) == [.nestedLockNotTaken])
    #expect(
      genericNotHeld.first.flatMap(siteLine) == genericNestLine,
      "\(genericNotHeld.map(\.text))")
    // The address recorded is the call's own (reports drop the module's
    // leading frames, so their `at:` line would not tell a forwarding
    // frame's address from it): symbolized, the caller's line.
    let ip = genericNotHeld.first?.finding.origin.ip ?? 0
    let site = Symbolizer.inProcess().symbolize(ip, isReturnAddress: true).frames.first
    #expect(
      site?.file?.hasSuffix("NestedProtectedTests.swift") == true
        && site?.line == genericNestLine, "\(String(describing: site))")
    let plainNestLine = #line + 3
    let underRawPlainNest = findings {
      raw.lock()
      inner.lock(nestLock: Plain.Mutex())
      inner.unlock()
      raw.unlock()
    }
    let plainNestFinding = underRawPlainNest.first { $0.kind == .invalidWaitContext }
    #expect(
      plainNestFinding.flatMap(siteLine) == plainNestLine,
      "\(underRawPlainNest.map(\.text))")
  }

  /// Code generic over `NestingKernelLock` takes a lock at a subclass with
  /// `lock(subclass:)` (an independent trial had to pass a site): a
  /// second lock of a class at subclass 1 is no recursion, at 0 it is, at
  /// the generic function's own line; the address recorded symbolizes to
  /// it.
  @Test func genericCodeTakesALockAtASubclass() {
    let locks = (0..<2).map { _ in
      Checked.SpinLock(name: "&generic->lock", key: LockClassKey("nested.generic"))
    }
    @Sendable func lockBoth(
      _ first: some NestingKernelLock, _ second: some NestingKernelLock, at subclass: Int
    ) {
      first.lock()
      second.lock(subclass: subclass)  // genericLine
      second.unlock()
      first.unlock()
    }
    let genericLine = #line - 4
    #expect(findings { lockBoth(locks[0], locks[1], at: 1) }.isEmpty)
    let recursion = findings { lockBoth(locks[0], locks[1], at: 0) }
    #expect(recursion.map(\.kind) == [.recursiveLocking])
    #expect(recursion.first.flatMap(siteLine) == genericLine, "\(recursion.map(\.text))")
    let ip = recursion.first?.finding.origin.ip ?? 0
    let site = Symbolizer.inProcess().symbolize(ip, isReturnAddress: true).frames.first
    #expect(site?.line == genericLine, "\(String(describing: site))")
  }

  /// A plain map (a release build's `LockdepMap`) as a validated lock's nest
  /// lock serializes nothing: a second lock of the class under it is a
  /// recursion, as under no nest lock at all.
  @Test func aPlainMapAsANestLockSerializesNothing() {
    let locks = (0..<2).map { _ in
      Checked.Mutex(name: "&plainmap->lock", key: LockClassKey("nested.plainmap"))
    }
    let map = Plain.LockdepMap(.mutex, name: "&plainmap->nest")
    let found = findings {
      map.acquire()
      locks[0].lock(nestLock: map)
      locks[1].lock(nestLock: map)
      locks[1].unlock()
      locks[0].unlock()
      map.release()
    }
    #expect(found.map(\.kind) == [.recursiveLocking])
  }

  /// A lock type of one's own, built on a `LockdepMap`, nests as the
  /// module's own do: `acquire(subclass:)` and `acquire(nestLock:)`.
  @Test func aMapTakesASubclassOrANestLock() {
    let key = LockClassKey("nested.map")
    let (m1, m2) = (Checked.LockdepMap(.mutex, key: key), Checked.LockdepMap(.mutex, key: key))
    let nest = Checked.Mutex(name: "&maps->all", key: LockClassKey("nested.maps"))
    #expect(
      findings {
        m1.acquire()
        m2.acquire()
        m2.release()
        m1.release()
      }.map(\.kind) == [.recursiveLocking])
    #expect(
      findings {
        m1.acquire()
        m2.acquire(subclass: 1)
        m2.release()
        m1.release()
        nest.lock()
        m1.acquire(nestLock: nest)
        m2.acquire(nestLock: nest)
        m2.release()
        m1.release()
        nest.unlock()
      }.isEmpty)
  }

  /// A map is a nest lock too (lockdep's `lock_acquire()` takes any
  /// `lockdep_map` as `nest_lock`): of a lock type of your own, for the
  /// module's locks and for other maps. (The review found a map refused
  /// by the compiler there, and a lock type of one's own ignored.)
  @Test func aMapIsANestLock() {
    let (a, b) = (Account(10), Account(0))
    let outer = Checked.LockdepMap(.mutex, key: LockClassKey("nested.outermap"))
    let key = LockClassKey("nested.innermap")
    let (m1, m2) = (Checked.LockdepMap(.mutex, key: key), Checked.LockdepMap(.mutex, key: key))
    let found = findings {
      outer.acquire()
      a.balance.withLock(nestLock: outer) { from in
        b.balance.withLock(nestLock: outer) { to in
          from -= 1
          to += 1
        }
      }
      m1.acquire(nestLock: outer)
      m2.acquire(nestLock: outer)
      m2.release()
      m1.release()
      outer.release()
    }
    #expect(found.isEmpty, "\(found.map(\.text))")
  }
}
