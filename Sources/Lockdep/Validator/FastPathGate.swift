/// Why a live thread's events may not take the fast path, apart from the
/// validator running (`LiveThread.busy`): one byte per reason, so that the
/// fast path tests them all with one 32-bit load.
///
/// `busy` is kept apart: it is set and cleared around every full-path
/// event, and a word loaded soon after a byte of it was stored waits for
/// the store (store forwarding fails on a wider load); these reasons
/// change rarely.
///
/// Invariants: each reason's byte is 0 or 1 and is written with a single
/// byte store, by the thread itself or by a signal handler running on it;
/// a handler puts back what it changed before it returns, except
/// `eventsDeferred`, which it only sets. So no write of one reason loses a
/// write of another, as a read-modify-write of one shared word interrupted
/// by a handler could.
struct FastPathGate {
  // Bytes, not `Bool`s: the compiler tests a `Bool`'s low bit alone, so
  // three of them cost three loads; bytes compare as one word.
  private var reasons: (signal: UInt8, deferred: UInt8, recording: UInt8, noTaskJob: UInt8) =
    (0, 0, 0, 0)

  /// A signal handler installed through Lockdep is running on this thread.
  var inSignalHandler: Bool {
    @inline(__always) get { reasons.signal != 0 }
    @inline(__always) set { reasons.signal = newValue ? 1 : 0 }
  }
  /// Events of signal handlers are queued, to be validated first.
  var eventsDeferred: Bool {
    @inline(__always) get { reasons.deferred != 0 }
    @inline(__always) set { reasons.deferred = newValue ? 1 : 0 }
  }
  /// The thread's events are recorded to a trace.
  var recording: Bool {
    @inline(__always) get { reasons.recording != 0 }
    @inline(__always) set { reasons.recording = newValue ? 1 : 0 }
  }

  /// A routed job of no task (an actor's) runs on this thread
  /// (`ScopeExecutor`): its first acquisition notes the test it is made
  /// for (`LiveThread.noTaskJobScope`).
  var inNoTaskJob: Bool {
    @inline(__always) get { reasons.noTaskJob != 0 }
    @inline(__always) set { reasons.noTaskJob = newValue ? 1 : 0 }
  }

  /// No reason holds.
  @inline(__always)
  var isOpen: Bool { unsafeBitCast(reasons, to: UInt32.self) == 0 }
}
