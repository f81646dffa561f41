import Basics
import LockGraph

extension TraceReader {
  /// Reads the trace on a thread of its own while the calling thread
  /// validates what it has read so far: the same findings, errors and
  /// warnings as `read(into:progress:warning:)`, in about the time the
  /// slower of the two takes, when two cores are free.
  /// - Parameters:
  ///   - progress: called on the calling thread now and then with bytes
  ///     read and the file size.
  ///   - warning: called on the calling thread at the end with any
  ///     warning; by default it goes to standard error.
  ///   - interruption: asked on the reading thread between batches
  ///     (`read(into:progress:warning:interruption:)`).
  /// - Returns: the trace's modules and stacks.
  /// - Throws: `TraceError` at the first malformed line or record, or at the
  ///   first event the validator refuses, whichever comes first in the trace.
  public func readOnTwoThreads(
    into validator: inout LockValidator, progress: ((UInt64, UInt64?) -> Void)? = nil,
    warning: ((String) -> Void)? = nil, interruption: TraceInterruption? = nil
  ) throws(TraceError) -> TraceSymbols {
    let opened = try openTrace(interruption: interruption)
    let isBinary = opened.encoding == .binary
    let pipeline = TracePipeline()
    let path = self.path
    let displayName = self.displayName
    let corruption = self.corruption
    let started = Result { () throws(ThreadStartError) in
      try SpawnedThread.starting {
        var sink = PipelineSink(pipeline)
        let result = Result { () throws(TraceError) -> TraceSymbols in
          var reader = TraceReader(path: path, displayName: displayName)
          reader.corruption = corruption
          return try reader.read(
            opened: opened, into: &sink, progress: { pipeline.report(progress: $0, of: $1) },
            warning: { pipeline.warn($0) }, interruption: interruption)
        }
        pipeline.send(.end(result))
      }
    }
    guard case .success(let reader) = started else {
      // No thread to be had (`ulimit -u`, no memory for a stack): the
      // same reading on this thread alone.
      return try read(
        opened: opened, into: &validator, progress: progress,
        warning: warning ?? Self.standardError, interruption: interruption)
    }
    var drain = PipelineDrain(pipeline: pipeline)
    var refusal: TraceError? = nil
    var outcome: Result<TraceSymbols, TraceError>
    while true {
      let (command, latest) = pipeline.receive()
      if let latest { progress?(latest.0, latest.1) }
      if case .end(let result) = command {
        outcome = result
        break
      }
      if refusal != nil {
        if case .events(let slot, _) = command { pipeline.free(slot) }
        continue
      }
      if let refused = drain.apply(command, to: &validator) {
        refusal =
          isBinary
          ? TraceError(file: displayName, byte: UInt64(refused.position), message: refused.message)
          : TraceError(file: displayName, line: refused.position, message: refused.message)
        pipeline.stop()
      }
    }
    reader.join()
    if let refusal {
      // Refused past the end of a file that shrank meanwhile: the zeros
      // there are not the file's (as `read(into:)` says alone).
      if case .failure(let error) = outcome, error.fileShrank { throw error }
      throw refusal
    }
    for message in pipeline.takeWarnings() { (warning ?? Self.standardError)(message) }
    return try outcome.get()
  }
}

/// The validating thread's side of a pipelined read: applies the reader's
/// commands to the validator, mapping the reader's class and thread numbers
/// to the validator's ids (the same numbers, unless the class table filled).
struct PipelineDrain {
  let pipeline: TracePipeline
  private var classes: [ClassID] = []
  private var threads: [ThreadID] = []
  /// Every id so far is the reader's number: events pass unchanged.
  private var sameIDs = true

  init(pipeline: TracePipeline) { self.pipeline = pipeline }

  /// Applies one command (not `.end`).
  /// - Returns: the position of the event the validator refused, and why.
  mutating func apply(_ command: PipelineCommand, to validator: inout LockValidator) -> (
    position: Int64, message: String
  )? {
    switch command {
    case .declareClass(let key, let name, let kind, let waits):
      let id = validator.declareClass(key: key, name: name, kind: kind, waits: waits)
      if id.raw != Int32(classes.count) { sameIDs = false }
      classes.append(id)
    case .declareThread(let token, let name):
      let id = validator.declareThread(token: token, name: name)
      if id.raw != Int32(threads.count) { sameIDs = false }
      threads.append(id)
    case .nameThread(let id, let name): validator.nameThread(threads[id.index], name)
    case .events(let slot, let count):
      defer { pipeline.free(slot) }
      let base = slot * TracePipeline.slotCapacity
      let events = pipeline.events + base
      if !sameIDs {
        for i in 0..<count { map(&events[i]) }
      }
      if let refused = validator.process(UnsafeBufferPointer(start: events, count: count)) {
        return (pipeline.positions[base + refused.index], refused.error.message)
      }
    case .end: break
    }
    return nil
  }

  private func map(_ event: inout LockEvent) {
    event.thread = threads[event.thread.index]
    if event.lockClass != .none { event.lockClass = classes[Int(event.lockClass.raw)] }
    if event.nest != .none { event.nest = classes[Int(event.nest.raw)] }
  }
}
