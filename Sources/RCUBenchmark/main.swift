// The RCU read side's cost: an rcuReadLock()/rcuReadUnlock() pair with the
// validator off (the fast path alone) and on, nested and not, against a
// baseline measured in the same run: the same loop around a thread-local
// counter's relaxed increment and decrement with compiler fences (the floor
// any counter-based read side pays). liburcu's memb flavour is about 1.5 ns
// a pair on common x86 machines.
//
//   swift run -c release RCUBenchmark [iterations]

import CRCUSupport
import Lockdep
import RCU

let iterations = CommandLine.arguments.dropFirst().first.flatMap { Int($0) } ?? 200_000_000

/// Nanoseconds per iteration of `body`, the best of five runs.
func measure(_ body: (Int) -> Void) -> Double {
  var best = Double.infinity
  for _ in 0..<5 {
    let clock = ContinuousClock()
    let elapsed = clock.measure { body(iterations) }
    let ns = Double(elapsed.components.seconds) * 1e9 + Double(elapsed.components.attoseconds) / 1e9
    best = min(best, ns / Double(iterations))
  }
  return best
}

func format(_ value: Double) -> String {
  let scaled = (value * 100).rounded() / 100
  return "\(scaled)"
}

LockValidation.policy = .off
rcuReadLock()
rcuReadUnlock()

let baseline = measure { n in
  for _ in 0..<n {
    rlc_rcu_bench_counter_enter()
    rlc_rcu_bench_counter_exit()
  }
}
let pair = measure { n in
  for _ in 0..<n {
    rcuReadLock()
    rcuReadUnlock()
  }
}
rcuReadLock()
let nested = measure { n in
  for _ in 0..<n {
    rcuReadLock()
    rcuReadUnlock()
  }
}
rcuReadUnlock()
let scoped = measure { n in
  var sum = 0
  for i in 0..<n { sum &+= withRCURead { i } }
  precondition(sum != 1)
}

print(
  "membarrier: \(ReaderDiagnostics.usesMembarrier ? "yes" : "no (full fence on the read side)")")
print("baseline (TLS counter, relaxed):     \(format(baseline)) ns")
print(
  "rcuReadLock/Unlock, validation off:  \(format(pair)) ns  (\(format(pair / baseline))x baseline)")
print("  nested inside a section:           \(format(nested)) ns")
print("  withRCURead { }:                   \(format(scoped)) ns")

LockValidation.policy = .collect
let validatedIterations = 200_000
var validated = Double.infinity
for _ in 0..<3 {
  let clock = ContinuousClock()
  let elapsed = clock.measure {
    for _ in 0..<validatedIterations {
      rcuReadLock()
      rcuReadUnlock()
    }
  }
  let ns = Double(elapsed.components.seconds) * 1e9 + Double(elapsed.components.attoseconds) / 1e9
  validated = min(validated, ns / Double(validatedIterations))
}
print("rcuReadLock/Unlock, validation on:   \(format(validated)) ns")
