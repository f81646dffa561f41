import WaitContext

extension LockValidator {
  /// lockdep's `check_wait_context()`: the acquisition's outer wait type
  /// must not exceed what the interrupt context and the locks held in it
  /// allow. Runs on every acquisition, cached chain or not.
  mutating func checkWaitContext(thread t: Int, _ lock: HeldLock) {
    let waits = classes[lock.lockClass].waits
    if lock.isTrylock || waits.inner == .inv { return }
    let limit = threads[t].waitContext.waitLimit
    let start = threads[t].currentSegmentStart
    var allowed = configuration.effective(limit)
    // WaitContextRule.allowed(), stepped over the held array in place.
    var i = start
    while i < threads[t].held.count {
      let holder = classes[threads[t].held[i].lockClass].waits
      allowed = WaitContextRule.lower(
        allowed, holder: holder.inner, lockType: holder.lockType, configuration: configuration)
      i += 1
    }
    let required = configuration.effective(waits.effectiveOuter)
    if required > allowed {
      report(
        .invalidWaitContext, thread: t, origin: lock.origin, lock: snapshot(lock),
        detail: .invalidWaitContext(
          context: configuration.effective(limit), allowed: allowed, required: required),
        classes: [lock.lockClass] + threads[t].held[start...].map(\.lockClass))
    }
  }
}
