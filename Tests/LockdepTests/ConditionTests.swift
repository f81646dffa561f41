import LockGraph
import Lockdep
import Testing

#if canImport(Glibc)
  import Glibc
#endif

/// A condition variable's wait is validated as the kernel's sleeping wait
/// with its mutex dropped around it (`mutex_unlock()`, `might_sleep()`,
/// `schedule()`, `mutex_lock()`): a sleep where sleeping is not allowed is
/// `sleep-in-atomic`, and the mutex taken again under the locks still held
/// is a dependency of each (an independent trial porting a real bug, hpx's
/// condition variable re-taking its outer lock with an inner one held,
/// had no condition variable to port it with).
@Suite struct ConditionTests {
  init() { LockValidation.policy = .collect }

  /// The findings `body` causes on a thread of its own.
  func findings(_ body: @escaping @Sendable () -> Void) -> [FindingKind] {
    let scope = LockValidationScope()
    pthread_join(spawn { scope.run(body) }, nil)
    return scope.findings.map(\.kind)
  }

  /// A producer and a consumer: the consumer waits with its mutex alone
  /// held and is woken; nothing to report.
  @Test func aWaitWithItsMutexAloneIsClean() {
    final class Box: @unchecked Sendable {
      let mutex = Checked.Mutex(name: "&box->lock", key: LockClassKey("condition.box"))
      let ready = Checked.Condition()
      var value = 0
    }
    let box = Box()
    let found = findings {
      let producer = spawn {
        box.mutex.lock()
        box.value = 42
        box.ready.signal()
        box.mutex.unlock()
      }
      box.mutex.lock()
      while box.value == 0 { box.ready.wait(box.mutex) }
      box.mutex.unlock()
      pthread_join(producer, nil)
    }
    #expect(found.isEmpty, "\(found)")
    #expect(box.value == 42)
  }

  /// A wait with a spin lock held sleeps in atomic context.
  @Test func aWaitUnderASpinLockSleepsInAtomicContext() {
    let mutex = Checked.Mutex(name: "&waiter->lock", key: LockClassKey("condition.waiter"))
    let spin = Checked.SpinLock(name: "&waiter->spin", key: LockClassKey("condition.spin"))
    let condition = Checked.Condition()
    let found = findings {
      mutex.lock()
      spin.lock()
      #expect(condition.wait(mutex, timeout: .milliseconds(1)) == false)
      spin.unlock()
      mutex.unlock()
    }
    #expect(found.contains(.sleepInAtomic), "\(found)")
  }

  /// The waiter takes its outer mutex again with an inner lock held: a
  /// dependency inner -> outer, against outer -> inner taken before, is a
  /// lock-order cycle (the waker, needing the inner lock to signal, would
  /// never wake it).
  @Test func retakingTheMutexUnderAnotherLockIsADependency() {
    let outer = Checked.Mutex(name: "&pool->outer", key: LockClassKey("condition.outer"))
    let inner = Checked.Mutex(name: "&pool->inner", key: LockClassKey("condition.inner"))
    let condition = Checked.Condition()
    let found = findings {
      outer.lock()
      inner.lock()
      _ = condition.wait(outer, timeout: .milliseconds(1))
      inner.unlock()
      outer.unlock()
    }
    #expect(found == [.circularDependency], "\(found)")
  }
}
