import Testing
import WaitContext

@testable import LockGraph

/// A sleep-in-atomic finding's reasons keep each held lock's name as its
/// class has it, not a copy: memory per finding does not grow with the
/// names' length. And reasons are equal, and hash alike, when they read
/// the same, however they are kept.
@Suite struct SleepReasonsTests {
  /// The address of `text`'s UTF-8 storage.
  static func storage(_ text: String) -> UnsafeRawPointer? {
    var text = text
    return text.withUTF8 { UnsafeRawPointer($0.baseAddress) }
  }

  @Test func aHeldLocksNameIsTheClassesOwn() throws {
    var s = Scenario()
    let key = String(repeating: "x", count: 100_000)
    s.lock(key, .rawSpinlock)
    s.acquire(key)
    try s.event(.mightSleep)
    guard case .sleepInAtomic(let reasons, _) = s.findings.first?.detail,
      case .holding(_, let name, _) = reasons.reasons.first
    else {
      Issue.record("no sleep-in-atomic finding holding the lock: \(s.findings)")
      return
    }
    let own = s.validator.core.classes[s.id(key)].displayName
    #expect(name == own)
    #expect(Self.storage(name) != nil)
    #expect(Self.storage(name) == Self.storage(own), "the name was copied")
    #expect(reasons[0] == "holding raw_spinlock &" + key)
  }

  @Test func reasonsThatReadTheSameAreEqualAndHashAlike() {
    var kept = SleepReasons()
    kept.append("interrupts disabled")
    kept.appendHolding(kind: "rwlock", name: "&a b", suffix: " (on RT)")
    let read: SleepReasons = ["interrupts disabled", "holding rwlock &a b (on RT)"]
    #expect(kept == read)
    #expect(kept.hashValue == read.hashValue)
    #expect(Array(kept) == ["interrupts disabled", "holding rwlock &a b (on RT)"])
    var other = SleepReasons()
    other.append("interrupts disabled")
    other.appendHolding(kind: "rwlock", name: "&a", suffix: " b (on RT)")
    #expect(other == kept, "split elsewhere, read the same")
    #expect(other.hashValue == kept.hashValue)
    let different: SleepReasons = ["interrupts disabled", "holding rwlock &a c (on RT)"]
    #expect(different != kept)
    // Canonically equivalent, as Strings are equal: equal, and hash alike.
    var composed = SleepReasons()
    composed.appendHolding(kind: "mutex", name: "\u{E9}")
    let decomposed = SleepReasons(["holding mutex e\u{301}"])
    #expect(composed == decomposed)
    #expect(composed.hashValue == decomposed.hashValue)
  }
}
