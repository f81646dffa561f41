import Synchronization
import Testing

@testable import Lockdep

#if canImport(Glibc)
  import Glibc
#endif

/// `Checked.withInterruptsMasked`: a handler installed through
/// `installSignalHandler` is a hard interrupt, so disabling interrupts must
/// keep it from running until the scope ends (else it could spin on a raw
/// lock the interrupted code holds), and the validator sees interrupts off.
@Suite struct InterruptMaskTests {
  /// `Checked.withInterruptsMasked`, and `Plain.withInterruptsMasked`
  /// (what `withInterruptsMasked` is where validation is compiled out),
  /// each tried with a signal of its own (the cases run at once).
  /// With them the `_irqsave` lock operations (`spin_lock_irqsave()`
  /// disables interrupts): before 2026-12-06 they told the validator only,
  /// so a handler that took the lock could spin forever on it, in a
  /// program the validator found correct. Real-time signals 40 to 43.
  static let masks: [(name: String, signal: Int32, mask: @Sendable (() -> Void) -> Void)] = [
    ("Checked", SIGVTALRM, { Checked.withInterruptsMasked($0) }),
    ("Plain", SIGTTOU, { Plain.withInterruptsMasked($0) }),
    ("Checked.RawSpinLock.withLockIRQSave", 40, { maskRaw.withLockIRQSave($0) }),
    ("Checked.SpinLock.withTryLockIRQSave", 41, { _ = maskSpin.withTryLockIRQSave($0) }),
    ("Plain.RawSpinLock.withLockIRQSave", 42, { maskPlain.withLockIRQSave($0) }),
    ("Plain.SpinLock.withTryLockIRQSave", 43, { _ = maskPlainTry.withTryLockIRQSave($0) }),
  ]
  static let maskRaw = Checked.RawSpinLock(name: "&mask_test->irqsave_raw")
  static let maskSpin = Checked.SpinLock(name: "&mask_test->irqsave_spin")
  static let maskPlain = Plain.RawSpinLock()
  static let maskPlainTry = Plain.SpinLock()

  @Test(arguments: 0..<masks.count)
  func anInstalledHandlerWaitsForTheScopeToEnd(mask: Int) {
    LockValidation.policy = .collect
    let (name, signal, withMask) = Self.masks[mask]
    let runs = Atomic<Int>(0)
    installSignalHandler(signal) { _ in runs.add(1, ordering: .relaxed) }
    let seen = Mutex<(inside: Int, blocked: Bool, after: Int)>((-1, false, -1))
    runOnAThread(unblocking: signal) {
      withMask {
        _ = raise(signal)
        var mask = sigset_t()
        pthread_sigmask(SIG_BLOCK, nil, &mask)
        let inside = runs.load(ordering: .relaxed)
        seen.withLock {
          $0.inside = inside
          $0.blocked = sigismember(&mask, signal) == 1
        }
      }
      // The pending signal is delivered when the mask is restored.
      let after = runs.load(ordering: .relaxed)
      seen.withLock { $0.after = after }
    }
    let (inside, blocked, after) = seen.withLock { $0 }
    #expect(inside == 0, "the handler ran inside \(name)'s scope")
    #expect(blocked)
    #expect(after == 1)
  }

  @Test func locksTakenInsideAreIrqSafe() {
    LockValidation.policy = .collect
    let lock = Checked.RawSpinLock(name: "&mask_test->lock")
    let scope = LockValidationScope(isolated: true)
    scope.run {
      Checked.withInterruptsMasked { lock.withLock {} }
      Checked.withHardIRQ { lock.withLock {} }
    }
    #expect(scope.findings.isEmpty, "\(scope.findings.map(\.text))")
  }

  /// `Plain.withInterruptsMasked` tells no validator that interrupts are
  /// off: a raw lock taken inside it and in a hard interrupt is, to the
  /// validator, one taken with interrupts on, and so inconsistent.
  @Test func thePlainMaskTellsNoValidator() {
    LockValidation.policy = .collect
    let lock = Checked.RawSpinLock(name: "&plain_mask_test->lock")
    let scope = LockValidationScope(isolated: true)
    scope.run {
      Plain.withInterruptsMasked { lock.withLock {} }
      Checked.withHardIRQ { lock.withLock {} }
    }
    #expect(scope.findings.map(\.finding.kind) == [.inconsistentLockState])
  }
}
