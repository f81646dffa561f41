import Lockdep
import Testing

#if canImport(Glibc)
  import Glibc
#endif

/// A held lock's `at:` is its acquisition's call site in the caller's code,
/// also once its chain is cached, when the fast path keeps the return
/// address alone (not a stack to leave this module's frames out of): in a
/// debug build, where nothing is inlined, the address must still be the
/// lock operation's own call site, not a place inside the lock types.
@Suite struct HeldLockSiteTests {
  init() { LockValidation.policy = .collect }

  /// The finding texts `body` causes on a thread of its own.
  func texts(_ body: @escaping @Sendable () -> Void) -> [String] {
    let scope = LockValidationScope()
    pthread_join(spawn { scope.run(body) }, nil)
    return scope.findings.map(\.text)
  }

  /// The held lock's line of an invalid-wait-context report.
  func heldLine(_ text: String) -> String {
    text.split(separator: "\n").first { $0.hasPrefix(" #0: ") }.map(String.init) ?? text
  }

  /// Whether the held lock's `at:` is `line` of this file.
  func heldAt(_ text: String, line: Int) -> Bool {
    heldLine(text).contains("/LockdepTests/HeldLockSiteTests.swift:\(line))")
  }

  @Test func withLockAfterTheChainIsCached() {
    let raw = Checked.RawSpinLock(name: "&site->raw")
    let mutex = Checked.Mutex(name: "&site->mutex")
    let line = #line + 4
    let text =
      texts {
        for _ in 0..<3 { raw.withLock {} }
        raw.withLock { mutex.withLock {} }
      }.first { $0.contains("BUG: Invalid wait context") } ?? ""
    #expect(text.contains("BUG: Invalid wait context"))
    #expect(heldAt(text, line: line), "\(text)")
  }

  @Test func lockAfterTheChainIsCached() {
    let raw = Checked.SpinLock(name: "&site->spin")
    let mutex = Checked.Mutex(name: "&site->mutex2")
    let line = #line + 9
    let text =
      texts {
        for _ in 0..<3 {
          raw.lock()
          raw.unlock()
        }
        mutex.lock()
        mutex.unlock()
        raw.lock()
        mutex.lock()
        mutex.unlock()
        raw.unlock()
      }.first { $0.contains("BUG: Invalid wait context") } ?? ""
    #expect(text.contains("BUG: Invalid wait context"))
    #expect(heldAt(text, line: line), "\(text)")
  }

  @Test func protectedAndReadLocksAfterTheChainIsCached() {
    let counter = Protected(0, by: Checked.RawSpinLock(name: "&site->counter"))
    let rw = Checked.RWLock(name: "&site->rw")
    let mutex = Checked.Mutex(name: "&site->mutex3")
    let protectedLine = #line + 4
    let first =
      texts {
        for _ in 0..<3 { counter.withLock { $0 += 1 } }
        counter.withLock { _ in mutex.withLock {} }
      }.first { $0.contains("BUG: Invalid wait context") } ?? ""
    #expect(heldAt(first, line: protectedLine), "\(first)")
    let readLine = #line + 4
    let second =
      texts {
        for _ in 0..<3 { rw.withReadLock {} }
        rw.withReadLock { mutex.withLock {} }
      }.first { $0.contains("BUG: Invalid wait context") } ?? ""
    #expect(heldAt(second, line: readLine), "\(second)")
  }

  /// A value guarded by a reader-writer lock is read with the lock held
  /// shared (`Protected.withReadLock`), taken at the call's own site: a
  /// mutex under it is found, the held lock at that line.
  @Test func protectedReadsUnderTheLockHeldShared() {
    let table = Protected([1, 2, 3], by: Checked.RWLock(name: "&site->table"))
    let mutex = Checked.Mutex(name: "&site->mutex5")
    #expect(table.withReadLock { $0.count } == 3)
    let readLine = #line + 4
    let text =
      texts {
        for _ in 0..<3 { table.withReadLock { _ in } }
        table.withReadLock { _ in mutex.withLock {} }
      }.first { $0.contains("BUG: Invalid wait context") } ?? ""
    #expect(heldAt(text, line: readLine), "\(text)")
    table.withLock { $0.append(4) }
    #expect(table.withReadLock { $0 } == [1, 2, 3, 4])
  }

  /// `withLockIRQSave` (`spin_lock_irqsave()`) disables interrupts, then
  /// takes the lock, recorded at the call's own site; `withTryLockIRQSave`
  /// likewise, and gives nil for a lock another thread holds. A mutex under
  /// either is the invalid wait context, and (interrupts off) the sleep in
  /// atomic context, of its kind.
  @Test func irqSaveFormsDisableInterruptsAndRecordTheirCallSite() {
    let raw = Checked.RawSpinLock(name: "&site->irqsave")
    let spin = Checked.SpinLock(name: "&site->tryirqsave")
    let mutex = Checked.Mutex(name: "&site->mutex4")
    let rawLine = #line + 2
    let rawTexts = texts {
      raw.withLockIRQSave { mutex.withLock {} }
    }
    let wait = rawTexts.first { $0.contains("BUG: Invalid wait context") } ?? ""
    #expect(heldAt(wait, line: rawLine), "\(rawTexts)")
    let sleep = rawTexts.first { $0.contains("BUG: sleeping function") } ?? ""
    #expect(sleep.contains("interrupts disabled"), "\(rawTexts)")
    let spinLine = #line + 2
    let spinTexts = texts {
      _ = spin.withTryLockIRQSave { mutex.withLock {} }
    }
    let spinWait = spinTexts.first { $0.contains("BUG: Invalid wait context") } ?? ""
    #expect(heldAt(spinWait, line: spinLine), "\(spinTexts)")
    // Busy: nil, and the body does not run.
    let holder = Checked.SpinLock(name: "&site->busy")
    holder.lock()
    let result = texts {
      let ran = holder.withTryLockIRQSave { true }
      #expect(ran == nil)
    }
    holder.unlock()
    #expect(result.isEmpty, "\(result)")
  }
}

/// A lock type of the user's own, built on `LockdepMap` as the README
/// shows: it passes its caller's address, so that reports name the line
/// that took it.
final class UserTicketLock: @unchecked Sendable {
  let map: LockdepMap

  init(name: String, fileID: String = #fileID, line: Int = #line, column: Int = #column) {
    map = LockdepMap(.rawSpinlock, name: name, fileID: fileID, line: line, column: column)
  }

  @inline(never) func lock() { map.acquire(from: LockValidation.returnAddress()) }
  func unlock() { map.release() }
}

@Suite struct UserLockSiteTests {
  init() { LockValidation.policy = .collect }

  /// A user's lock type that passes `LockValidation.returnAddress()` to
  /// `LockdepMap.acquire(from:)` is named at the line that took it, not
  /// inside its own `lock()`; the finding's lock names are readable.
  @Test func aUserLockNamesTheLineThatTookIt() {
    let ticket = UserTicketLock(name: "&user->ticket")
    let mutex = Checked.Mutex(name: "&user->mutex")
    let line = #line + 5
    let scope = LockValidationScope()
    pthread_join(
      spawn {
        scope.run {
          ticket.lock()
          mutex.withLock {}
          ticket.unlock()
        }
      }, nil)
    let finding = scope.findings.first { $0.finding.kind == .invalidWaitContext }
    let held = finding?.text.split(separator: "\n").first { $0.hasPrefix(" #0: ") } ?? ""
    #expect(
      held.contains("/LockdepTests/HeldLockSiteTests.swift:\(line))"), "\(finding?.text ?? "")")
    #expect(!held.contains("UserTicketLock.lock()"))
    // The mutex, and the lock whose context it broke.
    #expect(finding.map { LockValidation.lockNames(of: $0.finding) }?.first == "&user->mutex")
    #expect(finding.map { LockValidation.lockNames(of: $0.finding).count } == 2)
  }

  /// What a `LockdepMap` is made of can be named with `import Lockdep` alone.
  @Test func aMapsKindAndWaitTypesAreNamedWithLockdepAlone() {
    let kind: LockKind = .custom
    let inner: WaitType = .spin
    let type: LockType = .normal
    let map = LockdepMap(kind, inner: inner, lockType: type, name: "&user->custom")
    #expect(map.kind == .custom)
  }

}
