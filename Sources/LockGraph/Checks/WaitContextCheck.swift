import WaitContext

extension ThreadValidator {
  /// What the current context and the locks held in it allow now
  /// (`WaitContextRule.allowed` over the current segment): the running
  /// value kept in the newest held lock when it was computed from the same
  /// context limit, else computed again.
  @inline(__always)
  mutating func allowedNow() -> (limit: WaitType, allowed: WaitType) {
    let limit = state.waitLimit
    let effective = configuration.effective(limit)
    if let top = state.top, top.irqContext == state.irqContext {
      if top.limitBase == effective { return (limit, top.allowedAfter) }
      return (limit, allowedOverSegment(limit))
    }
    return (limit, effective)
  }

  @inline(never)
  mutating func allowedOverSegment(_ limit: WaitType) -> WaitType {
    let classes = classes
    return WaitContextRule.allowed(
      contextLimit: limit,
      held: state.held[state.currentSegmentStart...].lazy.map { h in
        let w = classes.waits(h.lockClass)
        return (inner: w.inner, lockType: w.lockType)
      }, configuration: configuration)
  }

  /// lockdep's `check_wait_context()`, through `WaitContextRule`: the
  /// acquisition's outer wait type must not exceed what the interrupt
  /// context and the locks held in it allow. Runs on every acquisition,
  /// cached chain or not.
  /// `now` is `allowedNow()`.
  @inline(__always)
  mutating func checkWaitContext(
    _ lock: HeldLock, waits: ClassWaitTypes, now: (limit: WaitType, allowed: WaitType)
  ) {
    let (limit, allowed) = now
    guard
      let verdict = WaitContextRule.check(
        acquiring: waits, isTrylock: lock.isTrylock, allowed: allowed,
        configuration: configuration), !verdict.isValid
    else { return }
    let start = state.currentSegmentStart
    // The class, then those held in the segment, in the kept buffer.
    var related = relatedScratch
    relatedScratch = []
    related.removeAll(keepingCapacity: true)
    related.append(lock.lockClass)
    for held in state.held[start...] { related.append(held.lockClass) }
    defer { relatedScratch = related }
    reportNow(
      .invalidWaitContext, origin: foundAt(lock), lock: snapshot(lock),
      detail: .invalidWaitContext(
        context: configuration.effective(limit), allowed: verdict.allowed,
        required: verdict.required),
      classes: related)
  }
}
