import WaitContext

extension ThreadValidator {
  /// lockdep's `check_wait_context()`, through `WaitContextRule`: the
  /// acquisition's outer wait type must not exceed what the interrupt
  /// context and the locks held in it allow. Runs on every acquisition,
  /// cached chain or not.
  @inline(__always)
  mutating func checkWaitContext(_ lock: HeldLock, waits: ClassWaitTypes) {
    let configuration = configuration
    let limit = state.waitContext.waitLimit
    let start = state.currentSegmentStart
    let classes = classes
    let allowed = WaitContextRule.allowed(
      contextLimit: limit,
      held: state.held[start...].lazy.map { h in
        let w = classes.waits(h.lockClass)
        return (inner: w.inner, lockType: w.lockType)
      }, configuration: configuration)
    guard
      let verdict = WaitContextRule.check(
        acquiring: waits, isTrylock: lock.isTrylock, allowed: allowed,
        configuration: configuration), !verdict.isValid
    else { return }
    reportNow(
      .invalidWaitContext, origin: lock.origin, lock: snapshot(lock),
      detail: .invalidWaitContext(
        context: configuration.effective(limit), allowed: verdict.allowed,
        required: verdict.required),
      classes: [lock.lockClass] + state.held[start...].map(\.lockClass))
  }
}
