import LockGraph
import Synchronization
import Testing

@testable import Lockdep

#if canImport(Glibc)
  import Glibc
#endif

/// Lock classes and their names as lockdep forms them, and the lock types
/// beside the standard library's `Synchronization.Mutex`.
@Suite struct NamingTests {
  init() { LockValidation.policy = .collect }

  /// The text of the findings `body` causes on a thread of its own.
  func texts(_ body: @escaping @Sendable () -> Void) -> [String] {
    let scope = LockValidationScope()
    pthread_join(spawn { scope.run(body) }, nil)
    return scope.findings.map(\.text)
  }

  /// `File.swift:LINE:COLUMN`, the column `#column` gives a call (its
  /// parenthesis).
  @Test func anUnnamedLockIsNamedByItsDeclarationSite() {
    let raw = Checked.RawSpinLock(name: "&site->raw")
    let line = #line + 1
    let unnamed = Checked.Mutex()
    let text = texts { raw.withLock { unnamed.withLock {} } }.first ?? ""
    #expect(text.contains("(LockdepTests/NamingTests.swift:\(line):32)"), "\(text)")
  }

  /// An empty name is no name: the lock is named by its site, not `()`.
  @Test func anEmptyNameIsNoName() {
    let raw = Checked.RawSpinLock(name: "&site->raw-empty")
    let line = #line + 1
    let unnamed = Checked.Mutex(name: "")
    let text = texts { raw.withLock { unnamed.withLock {} } }.first ?? ""
    #expect(text.contains("(LockdepTests/NamingTests.swift:\(line):32)"), "\(text)")
    #expect(!text.contains("(){"), "\(text)")
  }

  /// Two locks made on one line share a class, which keeps the first
  /// one's name: a second name is said once (the kernel's "found a
  /// different class with the same key"), not dropped in silence, with
  /// the place that made them.
  @Test func aSecondNameForOneClassIsSaid() {
    let line = #line + 1
    func make(_ name: String) -> Checked.Mutex { Checked.Mutex(name: name) }
    let first = make("&first->shared")
    let second = make("&second->shared")
    let third = make("&third->shared")
    let said = LiveValidator.shared.misuses.filter {
      $0.contains("shares the class of \"&first->shared\"")
    }
    #expect(said.count == 1, "once per class: \(said)")
    #expect(
      said.first?.hasPrefix(
        "lock \"&second->shared\" of LockdepTests/NamingTests.swift:\(line):") == true,
      "\(said)")
    _ = (first, second, third)
  }

  /// A lock made with a class key and no name of its own takes the
  /// class's name: nothing is said (the class has one name). A second
  /// name under one key is said, with advice that fits a key: a key of
  /// its own.
  @Test func aKeyWithoutANameIsNoSecondName() {
    let key = LockClassKey("&keyed->default")
    let named = Checked.Mutex(name: "&keyed->named", key: key)
    let unnamed = Checked.Mutex(key: key)
    let renamed = Checked.Mutex(name: "&keyed->renamed", key: key)
    let said = LiveValidator.shared.misuses.filter {
      $0.contains("LockClassKey(\"&keyed->default\")")
    }
    #expect(said.count == 1, "\(said)")
    #expect(said.first?.hasPrefix("lock \"&keyed->renamed\" of ") == true, "\(said)")
    #expect(said.first?.contains("a LockClassKey of its own") == true, "\(said)")
    _ = (named, unnamed, renamed)
  }

  /// `className` is the name reports print: a class's first lock's name,
  /// whatever a later lock of the class was named (it was each lock's own
  /// name, or the key's), and lockdep's `#2` for a later class of the same
  /// name made elsewhere.
  @Test func classNameIsTheNameReportsPrint() {
    func make(_ name: String) -> Checked.Mutex { Checked.Mutex(name: name) }
    let first = make("&x->printed")
    let second = make("&y->printed")
    #expect(second.className == "&x->printed")
    let key = LockClassKey("&dev->printed-key")
    let named = Checked.Mutex(name: "&first->printed-key", key: key)
    let unnamed = Checked.Mutex(key: key)
    #expect(unnamed.className == "&first->printed-key")
    let elsewhere = Checked.Mutex(name: "&x->printed")
    #expect(elsewhere.className == "&x->printed#2")
    let raw = Checked.RawSpinLock(name: "&raw->printed")
    let text = texts { raw.withLock { second.withLock {} } }.first ?? ""
    #expect(text.contains("(\(second.className)){"), "\(text)")
    _ = (first, named)
  }

  @Test func aClassKeySharesOneClassAcrossLines() {
    let key = LockClassKey("&shared->lock")
    let first = Checked.SpinLock(key: key)
    let second = Checked.SpinLock(key: key)
    // Two locks of one class nested without a subclass: recursive locking,
    // named by the key.
    let text = texts { first.withLock { second.withLock {} } }.first ?? ""
    #expect(text.contains("WARNING: possible recursive locking detected"))
    #expect(text.contains("(&shared->lock)"))
  }

  @Test func locksOfOneLineShareAClassAndOthersDoNot() {
    let locks = (0..<2).map { _ in Checked.SpinLock(name: "&loop->lock") }
    let other = Checked.SpinLock(name: "&loop->lock")  // another line: another class
    #expect(texts { locks[0].withLock { other.withLock {} } }.isEmpty)
    #expect(texts { locks[0].withLock { locks[1].withLock {} } }.count == 1)
  }

  /// A thread that makes locks again and again at a few places (a lock
  /// per object) finds each class it made before (`RecentSites`), and
  /// tells apart what the registry tells apart: the place, the kind, and
  /// class keys whose names differ in bytes alone (a precomposed "é" and
  /// an "e" with a combining accent, equal as `String`s).
  @Test func locksMadeAgainAtOnePlaceFindTheirClass() {
    let classes = Mutex<[String: Set<Int32>]>([:])
    pthread_join(
      spawn {
        // Validation state first: the place cache is the thread's.
        Checked.Mutex(name: "&recent->first").withLock {}
        func note(_ what: String, _ lock: ValidatedLock) {
          classes.withLock { _ = $0[what, default: []].insert(lock.lockClass.raw) }
        }
        // Two rounds of at most four places each (the cache's size), so
        // that the second and later makes find the class there.
        for i in 0..<20 {
          func make(_ name: String?) -> Checked.Mutex { Checked.Mutex(name: name) }
          note("same", make("&recent->lock"))
          note(
            i.isMultiple(of: 2) ? "named" : "renamed",
            make(i.isMultiple(of: 2) ? "&recent->a" : "&recent->b"))
          // One place, two keys.
          func keyed(_ key: String) -> Checked.Mutex { Checked.Mutex(key: LockClassKey(key)) }
          note("composed", keyed("&caf\u{E9}"))
          note("decomposed", keyed("&cafe\u{301}"))
        }
        for _ in 0..<20 {
          note("mutex", Checked.Mutex(fileID: "Recent.swift", line: 1, column: 1))
          note("spin", Checked.SpinLock(fileID: "Recent.swift", line: 1, column: 1))
          note("other line", Checked.Mutex(fileID: "Recent.swift", line: 2, column: 1))
        }
      }, nil)
    let c = classes.withLock { $0 }
    for (what, ids) in c { #expect(ids.count == 1, "\(what): \(ids)") }
    // One place, one class whatever the lock is named.
    #expect(c["named"] == c["renamed"])
    #expect(c["composed"] != c["decomposed"])
    #expect(c["mutex"] != c["spin"])
    #expect(c["mutex"] != c["other line"])
  }

  /// Two locks made on one line are two places, as two init macros on
  /// one line are two static keys: a cycle through them is a cycle, not
  /// recursive locking of one class.
  @Test func twoLocksOnOneLineAreTwoClasses() {
    let (a, b) = (Checked.Mutex(name: "&line->a"), Checked.Mutex(name: "&line->b"))
    #expect(texts { a.withLock { b.withLock {} } }.isEmpty)
    let text = texts { b.withLock { a.withLock {} } }.first ?? ""
    #expect(text.contains("WARNING: possible circular locking dependency detected"), "\(text)")
  }

  /// Two classes of one name (two places): reports print them alike and
  /// traces key the later `name#2`, by the order they were made in, so
  /// it is said once per name.
  @Test func twoClassesOfOneNameAreSaid() {
    let first = Checked.Mutex(name: "&twice->lock")
    let second = Checked.Mutex(name: "&twice->lock")
    let third = Checked.Mutex(name: "&twice->lock")
    let said = LiveValidator.shared.misuses.filter { $0.hasPrefix("lock class \"&twice->lock\"") }
    #expect(said.count == 1, "once per name: \(said)")
    #expect(
      said.first?.contains("has the name of the class of LockdepTests/NamingTests.swift:") == true)
    _ = (first, second, third)
  }

  @Test func assertHeldAndAssertNotHeldPassWhenTrue() {
    let lock = Checked.Mutex(name: "&assert->lock")
    lock.assertNotHeld()
    lock.withLock { lock.assertHeld() }
    lock.assertNotHeld()
  }

  @Test func beSideSynchronizationTheModuleNameDisambiguates() {
    // Both modules name a `Mutex`: spelled with the module, both are usable.
    let ours = Lockdep.Mutex(name: "&both->ours")
    let theirs = Synchronization.Mutex(0)
    let value = ours.withLock {
      theirs.withLock {
        $0 += 1
        return $0
      }
    }
    #expect(value == 1)
  }

  @Test func protectedGuardsItsValue() {
    let counter = Protected(0, by: Checked.SpinLock(name: "&protected->lock"))
    for _ in 0..<10 { counter.withLock { $0 += 1 } }
    #expect(counter.withLock { $0 } == 10)
  }
}
