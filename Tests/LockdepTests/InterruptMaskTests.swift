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
  @Test func anInstalledHandlerWaitsForTheScopeToEnd() {
    LockValidation.policy = .collect
    let runs = Atomic<Int>(0)
    installSignalHandler(SIGVTALRM) { _ in runs.add(1, ordering: .relaxed) }
    let seen = Mutex<(inside: Int, blocked: Bool, after: Int)>((-1, false, -1))
    runOnAThread(unblocking: SIGVTALRM) {
      Checked.withInterruptsMasked {
        _ = raise(SIGVTALRM)
        var mask = sigset_t()
        pthread_sigmask(SIG_BLOCK, nil, &mask)
        let inside = runs.load(ordering: .relaxed)
        seen.withLock {
          $0.inside = inside
          $0.blocked = sigismember(&mask, SIGVTALRM) == 1
        }
      }
      // The pending signal is delivered when the mask is restored.
      let after = runs.load(ordering: .relaxed)
      seen.withLock { $0.after = after }
    }
    let (inside, blocked, after) = seen.withLock { $0 }
    #expect(inside == 0, "the handler ran inside the scope")
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
}
