import Lockdep
import RCU
import Testing

/// Where a read-side section began, and an exit without an entry.
@Suite struct ReadSideSiteTests {
  init() { LockValidation.policy = .collect }

  /// The held-lock line of a finding inside a section names the line that
  /// entered it, as the kernel's inlined `rcu_read_lock()` names its
  /// caller: not the RCU layer's own `rcuEnter` (before 2026-12-06, in a
  /// debug build, every section's `at:` was `ReadSide.swift`).
  @Test func aSectionsHeldLineNamesTheLineThatEnteredIt() throws {
    let scope = LockValidationScope(isolated: true)
    var lines: [Int] = []
    scope.run {
      lines.append(#line + 1)
      rcuReadLock()
      mightSleep()
      rcuReadUnlock()
      lines.append(#line + 1)
      withRCUReadSched { Checked.mightSleep() }
    }
    #expect(scope.findings.count == 2, "\(scope.findings.map(\.text))")
    for (occurrence, line) in zip(scope.findings, lines) {
      let text = occurrence.text
      let held = text.split(separator: "\n").first { $0.contains("#0: (rcu_read_lock") } ?? ""
      #expect(held.contains("ReadSideSiteTests.swift:\(line)"), "\(text)")
      #expect(!held.contains("ReadSide.swift"), "\(text)")
    }
  }

  /// `rcu_read_unlock()` without `rcu_read_lock()`: lockdep's bad unlock
  /// balance, and the program goes on (it stopped with a fatal error
  /// before 2026-12-06); the depth stays 0, and a section after it works.
  @Test func anExitWithoutAnEntryIsABadUnlockBalance() {
    let scope = LockValidationScope(isolated: true)
    let (heldAfter, heldInside) = scope.run {
      rcuReadUnlock()
      let after = rcuReadLockHeld()
      let inside = withRCURead { rcuReadLockHeld() }
      return (after, inside)
    }
    #expect(scope.findings.map(\.finding.kind) == [.badUnlockBalance])
    // Named at the caller's line, not the RCU layer's own.
    let text = scope.findings.first?.text ?? ""
    #expect(!text.contains("Registry.swift") && text.contains("ReadSideSiteTests.swift"), "\(text)")
    #expect(!heldAfter)
    #expect(heldInside)
    #expect(!rcuReadLockHeld())
  }
}
