import LockGraph
import WaitContext

#if canImport(Glibc)
  import Glibc
#endif

/// What the reading thread sends the validating thread, in stream order.
enum PipelineCommand: Sendable {
  case declareClass(key: String, name: String?, kind: LockKind, waits: ClassWaitTypes)
  case declareThread(token: String, name: String?)
  case nameThread(ThreadID, String)
  /// Events in a slot of `TracePipeline`'s buffers.
  case events(slot: Int, count: Int)
  /// The reader is done: the trace's symbols, or why it stopped.
  case end(Result<TraceSymbols, TraceError>)
}

/// The hand-over between a thread that reads and decodes a trace and the
/// thread that validates it: a queue of commands and a fixed pool of event
/// buffers. Memory is bounded: the reader waits for a free buffer.
///
/// Invariant: every field but the buffers' contents is read and written
/// with `mutex` held; a buffer slot belongs to the reader from
/// `takeSlot()` until it is sent, then to the validator until `free(_:)`.
final class TracePipeline: @unchecked Sendable {
  /// Event buffers in flight at most.
  static let slots = 16
  /// Events per buffer.
  static let slotCapacity = EventBatch.capacity
  let events: UnsafeMutablePointer<LockEvent>
  let positions: UnsafeMutablePointer<Int64>
  private let mutex = UnsafeMutablePointer<pthread_mutex_t>.allocate(capacity: 1)
  private let changed = UnsafeMutablePointer<pthread_cond_t>.allocate(capacity: 1)
  private var queue: [PipelineCommand] = []
  private var head = 0
  private var freeSlots = Array(0..<TracePipeline.slots)
  private var stopped = false
  /// A thread is waiting on `changed`: only then is there anyone to wake.
  private var readerWaits = false
  private var validatorWaits = false
  private var progress: (UInt64, UInt64?)? = nil
  private var warnings: [String] = []

  init() {
    events = .allocate(capacity: Self.slots * Self.slotCapacity)
    positions = .allocate(capacity: Self.slots * Self.slotCapacity)
    pthread_mutex_init(mutex, nil)
    pthread_cond_init(changed, nil)
  }

  deinit {
    pthread_cond_destroy(changed)
    pthread_mutex_destroy(mutex)
    changed.deallocate()
    mutex.deallocate()
    events.deallocate()
    positions.deallocate()
  }

  private func locked<T>(_ body: () -> T) -> T {
    pthread_mutex_lock(mutex)
    defer { pthread_mutex_unlock(mutex) }
    return body()
  }

  // MARK: Reader side

  /// A free buffer slot, waiting for one; nil once the validator stopped.
  func takeSlot() -> Int? {
    locked {
      while freeSlots.isEmpty && !stopped {
        readerWaits = true
        pthread_cond_wait(changed, mutex)
      }
      readerWaits = false
      return stopped ? nil : freeSlots.removeLast()
    }
  }

  /// Queues `command` for the validator.
  func send(_ command: PipelineCommand) {
    locked {
      queue.append(command)
      if validatorWaits { pthread_cond_broadcast(changed) }
    }
  }

  /// Keeps the latest progress for the validator to report.
  func report(progress bytes: UInt64, of size: UInt64?) { locked { progress = (bytes, size) } }

  /// Keeps a warning for the validator to pass on at the end.
  func warn(_ message: String) { locked { warnings.append(message) } }

  // MARK: Validator side

  /// The next command, waiting for one, and the latest progress if it
  /// changed since the last call.
  func receive() -> (PipelineCommand, (UInt64, UInt64?)?) {
    locked {
      while head == queue.count {
        validatorWaits = true
        pthread_cond_wait(changed, mutex)
      }
      validatorWaits = false
      let command = queue[head]
      head += 1
      if head >= 1024 && head * 2 >= queue.count {
        queue.removeFirst(head)
        head = 0
      }
      defer { progress = nil }
      return (command, progress)
    }
  }

  /// Gives a buffer slot back to the reader.
  func free(_ slot: Int) {
    locked {
      freeSlots.append(slot)
      // Wake the reader once half the buffers are free, not for each one.
      if readerWaits && freeSlots.count * 2 >= Self.slots { pthread_cond_broadcast(changed) }
    }
  }

  /// Tells the reader to stop: the validator refused an event.
  func stop() {
    locked {
      stopped = true
      pthread_cond_broadcast(changed)
    }
  }

  /// The warnings kept, once the reader is done.
  func takeWarnings() -> [String] { locked { warnings } }
}

/// The consumer a pipelined read feeds on the reading thread: it numbers
/// classes and threads itself and sends everything on to the validating
/// thread, which maps those numbers to the validator's.
struct PipelineSink: TraceConsumer {
  let pipeline: TracePipeline
  private var classCount: Int32 = 0
  private var threadCount: Int32 = 0

  init(_ pipeline: TracePipeline) { self.pipeline = pipeline }

  /// Sends the declaration; the class's number in this trace.
  mutating func declareClass(key: String, name: String?, kind: LockKind, waits: ClassWaitTypes)
    -> ClassID
  {
    pipeline.send(.declareClass(key: key, name: name, kind: kind, waits: waits))
    classCount += 1
    return ClassID(classCount - 1)
  }

  /// Sends the declaration; the thread's number in this trace.
  mutating func declareThread(token: String, name: String?) -> ThreadID {
    pipeline.send(.declareThread(token: token, name: name))
    threadCount += 1
    return ThreadID(threadCount - 1)
  }

  /// True: the validator on the other side takes declarations as they
  /// come, and the pipeline keeps their order with the batches it sends.
  var takesThreadsAhead: Bool { true }

  /// Sends the name.
  mutating func nameThread(_ id: ThreadID, _ name: String) {
    pipeline.send(.nameThread(id, name))
  }

  /// Sends one event (readers send batches, with positions).
  mutating func consume(_ event: LockEvent) throws(EventError) {
    let position: Int64 = 0
    let refused = withUnsafePointer(to: event) { one in
      withUnsafePointer(to: position) {
        consume(UnsafeBufferPointer(start: one, count: 1), positions: $0)
      }
    }
    if let refused { throw refused.error }
  }

  /// Copies the events and their positions into a free buffer and sends
  /// it; refuses them once the validator has stopped.
  func consume(_ events: UnsafeBufferPointer<LockEvent>, positions: UnsafePointer<Int64>)
    -> RefusedEvent?
  {
    guard let slot = pipeline.takeSlot() else {
      return RefusedEvent(index: 0, error: EventError("validation stopped"))
    }
    let base = slot * TracePipeline.slotCapacity
    (pipeline.events + base).initialize(from: events.baseAddress!, count: events.count)
    (pipeline.positions + base).initialize(from: positions, count: events.count)
    pipeline.send(.events(slot: slot, count: events.count))
    return nil
  }
}
