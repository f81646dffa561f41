import Dispatch
import Foundation
import Lockdep

/// A small deterministic generator (SplitMix64), so a failing run can be repeated.
struct SplitMix: RandomNumberGenerator {
  var state: UInt64
  init(seed: UInt64) { state = seed }
  mutating func next() -> UInt64 {
    state &+= 0x9E37_79B9_7F4A_7C15
    var z = state
    z = (z ^ (z >> 30)) &* 0xBF58_476D_1CE4_E5B9
    z = (z ^ (z >> 27)) &* 0x94D0_49BB_1331_11EB
    return z ^ (z >> 31)
  }
}

/// Runs `body(i)` on `count` threads of their own at once and waits for all.
func onThreads(_ count: Int, _ body: @escaping @Sendable (Int) -> Void) {
  let done = DispatchSemaphore(value: 0)
  for i in 0..<count {
    let thread = Thread {
      body(i)
      done.signal()
    }
    thread.start()
  }
  for _ in 0..<count { done.wait() }
}

/// The lock named on the "is trying to lock:" line of a finding's text.
func tryingToLock(_ occurrence: LockValidationScope.Occurrence) -> String? {
  let lines = occurrence.text.split(separator: "\n", omittingEmptySubsequences: false)
  guard let i = lines.firstIndex(where: { $0.hasSuffix("is trying to lock:") }), i + 1 < lines.count
  else { return nil }
  return String(lines[i + 1])
}
