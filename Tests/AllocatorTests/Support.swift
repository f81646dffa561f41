import Basics
import Dispatch
import Foundation
import Lockdep

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
