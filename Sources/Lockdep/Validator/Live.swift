import CLockdepSupport
import Synchronization
import LockGraph
import WaitContext

/// The calls the instrumented locks and context markers make into the
/// process-wide validator. Each finds the calling thread's `LiveThread`
/// (one thread-local load) and hands it one event; nothing here takes a
/// lock or allocates once the thread's state exists.
enum Live {
  /// Set while `LockValidation.policy` is `off`: no event is validated.
  static let off = Atomic<Bool>(false)

  /// Runs `body` with the calling thread's state, without reference
  /// counting it; not at all while validation is off or this thread is
  /// inside the validator already (a signal handler interrupted it).
  @inline(__always)
  static func withThread(_ body: (LiveThread) -> Void) {
    if off.load(ordering: .relaxed) { return }
    if let raw = rlc_lockdep_thread() {
      Unmanaged<LiveThread>.fromOpaque(raw)._withUnsafeGuaranteedRef { thread in
        if !thread.busy && thread.suppressedDepth == 0 { body(thread) }
      }
    } else if let thread = LiveThread.create() {
      body(thread)
    }
  }

  @inline(__always)
  static func acquire(
    _ lockClass: ClassID, instance: UInt64, read: ReadMode, trylock: Bool, subclass: UInt8,
    nest: ClassID, ip: UInt64
  ) {
    withThread { thread in
      if subclass == 0 && nest == .none && !trylock {
        thread.acquire(lockClass, instance: instance, read: read, ip: ip)
      } else {
        thread.process(
          LockEvent(
            .acquire, thread: thread.id, lockClass: lockClass, read: read, isTrylock: trylock,
            subclass: subclass, nest: nest, address: instance, origin: Origin(ip: ip)))
      }
    }
  }

  @inline(__always)
  static func release(_ lockClass: ClassID, instance: UInt64) {
    withThread { thread in thread.release(lockClass, instance: instance) }
  }

  /// An event without a class (contexts, might-sleep, exit).
  @inline(__always)
  static func event(_ verb: LockEvent.Verb, threaded: Bool = false) {
    withThread { thread in thread.process(LockEvent(verb, thread: thread.id, threaded: threaded)) }
  }

  /// `might_lock()`: checks an acquisition of `lockClass` without taking it.
  static func mightLock(_ lockClass: ClassID, read: ReadMode) {
    withThread { thread in
      thread.process(LockEvent(.mightLock, thread: thread.id, lockClass: lockClass, read: read))
    }
  }

  /// Memory at `address` is being freed (or a lock there re-initialized).
  static func freed(address: UInt64, length: UInt64) {
    guard LiveValidator.isCreated else { return }
    withThread { thread in
      thread.process(LockEvent(.free, thread: thread.id, address: address, length: length))
    }
  }

  /// Whether the calling thread holds the lock; nil when validation is off.
  static func isHeld(_ lockClass: ClassID, instance: UInt64) -> Bool? {
    guard let thread = LiveThread.current() else { return nil }
    return thread.holds(lockClass, instance: instance)
  }
}
