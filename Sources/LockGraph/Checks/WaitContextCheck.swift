import WaitContext

extension LockValidator {
  /// lockdep's `check_wait_context()`: the acquisition's outer wait type
  /// must not exceed what the interrupt context and the locks held in it
  /// allow. Runs on every acquisition, cached chain or not.
  mutating func checkWaitContext(thread t: Int, _ lock: HeldLock) {
    let waits = classes[lock.lockClass].waits
    if lock.isTrylock || waits.inner == .inv { return }
    let state = threads[t]
    let limit = state.waitContext.waitLimit
    let segment = state.held[state.currentSegmentStart...]
    let table = classes
    let allowed = WaitContextRule.allowed(
      contextLimit: limit,
      held: segment.lazy.map {
        (table[$0.lockClass].waits.inner, table[$0.lockClass].waits.lockType)
      },
      configuration: configuration)
    let required = configuration.effective(waits.effectiveOuter)
    if required > allowed {
      report(
        .invalidWaitContext, thread: t, origin: lock.origin, lock: snapshot(lock),
        detail: .invalidWaitContext(
          context: configuration.effective(limit), allowed: allowed, required: required),
        classes: [lock.lockClass] + segment.map(\.lockClass))
    }
  }
}
