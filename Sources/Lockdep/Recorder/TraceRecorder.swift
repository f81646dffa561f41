import Basics
import CLockdepSupport
import LockGraph
import Symbolizer
import Synchronization
import Trace
import WaitContext

#if canImport(Glibc)
  import Glibc
#endif

/// Writes the live process's trace (`spec/trace-format.md`) to a file, when
/// `RAWLOCKCHECK_TRACE=path` asks for one: classes, thread names, the module
/// map with build-ids, deduplicated stacks, and every event. The binary
/// encoding (`docs/binary-trace-format.md`) unless
/// `RAWLOCKCHECK_TRACE_FORMAT=text` asks for text.
///
/// Declarations go to the file at once, under the file's lock, so each is
/// written before any event that names it. Events are buffered per thread
/// (`ThreadRecording`) and written a buffer at a time: when it fills, when
/// its thread exits, when a finding is reported, at normal process exit,
/// and on a fatal signal. Events of one thread keep their order; events of
/// different threads are interleaved a buffer at a time.
///
/// Invariant (the order a reader needs): an event that happened before a
/// `free`, an `init` or an event with a stack (`at=`: something new to the
/// live validator) on another thread is written before it. A thread's
/// buffer is taken and written under the file's lock, in one step (never
/// taken, then written after another thread's write), and such an event
/// is appended and written, under that lock, after every other thread's
/// buffered events (`record(inOrder:into:)`). A reader checks a free against every thread's held
/// locks: a lock released before it, in a buffer written after it, would
/// be a held lock freed that never was. And a reader that met a chain
/// first in another thread's later events (which carry no stack: the live
/// validator knew the chain) would keep that one-frame origin for the
/// dependency instead of the stack the live report showed.
final class TraceRecorder: Sendable {
  /// The recorder of this process, once the live validator made one.
  static var current: TraceRecorder? {
    LiveValidator.isCreated ? LiveValidator.shared.recorder : nil
  }

  private struct File {
    var descriptor: Int32
    var writer: any TraceWriting
    /// Every thread's recording, to flush them all.
    var recordings: [ThreadRecording] = []
    /// The thread tokens declared: a thread's state made again (a later
    /// key destructor's lock, a reused thread id) is declared as `tid.2`.
    var threadTokens = UniqueTokens()
  }
  private let file: PThreadMutex<File>
  /// Whether a write of the trace failed (said once).
  private let writeFailed = Atomic<Bool>(false)
  /// Each class's key in the trace (`classToken`), and the keys taken. Its
  /// lock is taken last, with the file's or a buffer's held or alone.
  private let classKeys = PThreadMutex<(byID: [Int32: String], taken: UniqueTokens)>(
    ([:], UniqueTokens()))
  /// The path written to.
  let path: String
  /// Whether this process is a child `fork()` made without `exec`
  /// (`Live.forkedChild`). It shares its parent's file, its lock and the
  /// buffers not yet written, and a lock may be held by a thread that did
  /// not come with it: it writes nothing (the parent's buffered events
  /// would be written twice) and takes none of the recorder's locks. Its
  /// events never reach the recorder (`Live.off`); what does is its exit
  /// (`flushAll`, a thread's `retire`).
  private static var inForkedChild: Bool { Live.forkedChild.load(ordering: .relaxed) }
  /// The encoding written.
  let encoding: TraceEncoding

  /// The encoding `RAWLOCKCHECK_TRACE_FORMAT` names (`text` or `binary`,
  /// in any case), binary when it is unset or empty, or names neither
  /// (said on standard error).
  static func encodingFromEnvironment() -> TraceEncoding {
    let name = "RAWLOCKCHECK_TRACE_FORMAT"
    guard let value = ProcessEnvironment.value(name) else { return .binary }
    guard let encoding = TraceEncoding(rawValue: value.lowercased()) else {
      ProcessEnvironment.ignore(name, value, "is not text or binary")
      return .binary
    }
    return encoding
  }

  /// Opens (truncates) the file `RAWLOCKCHECK_TRACE`'s `template` names
  /// (`TracePath`) and writes the header and `modules` (the mappings now,
  /// `LiveStacks.linesForNewTrace()`); nil when the file
  /// cannot be opened (said on standard error).
  init?(path template: String, modules: [ModuleRecord]) {
    let opened: TracePath.Opened
    let forked = rlc_is_forked_child() != 0
    switch TracePath.open(template, forked: forked) {
    case .success(let o): opened = o
    case .failure(.system(let path, let code)):
      printToStandardError(
        "rawlockcheck: cannot write trace \(path): \(String(cString: strerror(code)))\n")
      return nil
    case .failure(.busyStream(let path)):
      printToStandardError(
        "rawlockcheck: trace \(path) is a FIFO another process is writing; "
          + "this process records nothing\n")
      return nil
    case .failure(.busy):
      printToStandardError(
        "rawlockcheck: cannot write trace \(template): another process holds it and its per-process name\n"
      )
      return nil
    }
    let fd = opened.descriptor
    if opened.path != opened.requested && forked {
      printToStandardError(
        "rawlockcheck: this process was forked before it validated anything; "
          + "its trace goes to \(opened.path), leaving \(opened.requested) to its parent\n")
    } else if opened.path != opened.requested {
      printToStandardError(
        "rawlockcheck: trace \(opened.requested) is being written by another process; "
          + "this process's trace goes to \(opened.path)\n")
    }
    self.path = opened.path
    let encoding = Self.encodingFromEnvironment()
    self.encoding = encoding
    var state = File(descriptor: fd, writer: encoding.makeWriter())
    state.writer.header()
    Self.write(modules: modules, to: &state)
    let written = Self.drain(&state)
    file = PThreadMutex(state)
    installExitHandlers()
    check(written)
  }

  /// A new thread's recording (its `thread` line written now).
  func recording(thread: ThreadID, token: String, name: String) -> ThreadRecording? {
    file.withLock { f in
      // A trace declares a thread token once.
      let unique = f.threadTokens.claim(token, separator: ".")
      let recording = ThreadRecording(
        recorder: self, thread: thread, token: unique, encoding: encoding)
      // Cannot fail: the token is a number, the name made writable.
      try? f.writer.declareThread(
        id: thread, token: unique, name: Self.writable(name, for: f.writer))
      f.recordings.append(recording)
      check(append(f.writer.take(), to: f.descriptor))
      return recording
    }
  }

  /// A `class` line for a class registered in the live validator, written
  /// while the registry holds its lock (`ClassRegistry.register`). Its key
  /// in the trace is its name (made writable in text), or, when an earlier
  /// class of this process took that name, the name with `#2`, `#3`, ...
  /// (lockdep's way of telling apart two classes of one name): so that
  /// the traces of two runs, or of two builds, name a class alike however
  /// the order its locks were made in changed, and `report --merge` and
  /// graph files (keyed by class key) find it the same class.
  func declareClass(
    _ id: ClassID, key: String, name: String, kind: LockKind, waits: ClassWaitTypes
  ) {
    file.withLock { f in
      let token = classKeys.withLock { keys in
        let token = keys.taken.claim(TextTraceWriter.writable(name), separator: "#")
        keys.byID[id.raw] = token
        return token
      }
      // Cannot fail: the key and the name made writable.
      try? f.writer.declareClass(
        id: id, key: token, name: Self.writable(name, for: f.writer), kind: kind, waits: waits)
      check(append(f.writer.take(), to: f.descriptor))
    }
  }

  /// The key of class `id` in the trace (`declareClass`).
  func classToken(_ id: ClassID) -> String {
    classKeys.withLock { $0.byID[id.raw] } ?? "c\(id.raw)"
  }

  /// A `thread` line renaming a thread.
  func nameThread(_ id: ThreadID, _ name: String) {
    file.withLock { f in
      try? f.writer.nameThread(id, Self.writable(name, for: f.writer))
      check(append(f.writer.take(), to: f.descriptor))
    }
  }

  /// A `stack` line for a stack interned for the first time, after the
  /// `module` lines of the mappings that changed since the last stack
  /// (`LiveStacks`: an object loaded, or one mapped where another was).
  func declareStack(_ id: StackID, addresses: [UInt64], after modules: [ModuleRecord]) {
    file.withLock { f in
      Self.write(modules: modules, to: &f)
      f.writer.stack(id: id, token: nil, addresses: addresses)
      check(append(f.writer.take(), to: f.descriptor))
    }
  }

  /// Writes `recording`'s buffered events: taken and written under the
  /// file's lock. From a signal handler, nothing when a lock is busy (held
  /// by the code the signal interrupted).
  func flush(_ recording: ThreadRecording, fromSignal: Bool = false) {
    if fromSignal {
      _ = file.withLockIfAvailable { f in
        if !writeFailed.load(ordering: .relaxed) { recording.writeIfAvailable(to: f.descriptor) }
      }
    } else {
      file.withLock { f in check(append(recording.take(), to: f.descriptor)) }
    }
  }

  /// Writes every other thread's buffered events, then `recording`'s with
  /// `event` appended: whatever happened before it, on any thread, is then
  /// written before it (one write). The event is appended under the file's
  /// lock, so no other flush can take it from the buffer first and write it
  /// ahead of another thread's events that happened before it.
  func record(inOrder event: LockEvent, into recording: ThreadRecording) {
    file.withLock { f in
      var bytes: [UInt8] = []
      for other in f.recordings where other !== recording { bytes += other.take() }
      bytes += recording.appendAndTake(event)
      check(append(bytes, to: f.descriptor))
    }
  }

  /// Writes `recording`'s last events, and forgets it: its thread ended.
  func retire(_ recording: ThreadRecording) {
    if Self.inForkedChild { return }
    file.withLock { f in
      check(append(recording.take(), to: f.descriptor))
      f.recordings.removeAll { $0 === recording }
    }
  }

  /// Writes every thread's buffered events. From a signal handler, locks
  /// that are busy (held by the code the signal interrupted) are skipped
  /// rather than waited for.
  func flushAll(fromSignal: Bool = false) {
    if Self.inForkedChild { return }
    if fromSignal {
      // Nothing allocated or freed: the signal may have interrupted
      // `malloc`, whose lock a handler that allocates would wait for.
      _ = file.withLockIfAvailable { f in
        guard !writeFailed.load(ordering: .relaxed) else { return }
        for r in f.recordings { r.writeIfAvailable(to: f.descriptor) }
      }
    } else {
      file.withLock { f in
        for r in f.recordings { check(append(r.take(), to: f.descriptor)) }
      }
    }
  }

  /// Writes the writer's pending declarations; the error number of a
  /// write that failed, else 0.
  @discardableResult
  private static func drain(_ f: inout File) -> Int32 {
    let bytes = f.writer.take()
    return writeAll(bytes, to: f.descriptor)
  }

  /// Writes `bytes` whole, unless a write failed before; the error number
  /// of a write that failed, else 0. Once one failed (`check`), nothing
  /// more is written: the bytes it lost may declare classes and stacks
  /// that later events name, so that a trace written on after the gap (a
  /// full disk that had room again) could not be read past it; one that
  /// stops there reads as cut short, to its last whole event (an
  /// independent trial's).
  private func append(_ bytes: [UInt8], to fd: Int32) -> Int32 {
    guard !writeFailed.load(ordering: .relaxed) else { return 0 }
    return Self.writeAll(bytes, to: fd)
  }

  /// Writes `bytes` whole; the error number of a write that failed, else 0.
  private static func writeAll(_ bytes: [UInt8], to fd: Int32) -> Int32 {
    bytes.withUnsafeBytes { b in
      var offset = 0
      while offset < b.count {
        let n = Glibc.write(fd, b.baseAddress! + offset, b.count - offset)
        if n < 0 && errno == EINTR { continue }
        if n < 0 { return errno }
        if n == 0 { return ENOSPC }
        offset += n
      }
      return 0
    }
  }

  /// Says once, on standard error, that the trace could not be written
  /// (`code`, an error number; 0: nothing to say): a full disk left a
  /// trace that read as clean, and the run said nothing. Not from a signal
  /// handler (the message is made here): those writes are not checked.
  private func check(_ code: Int32) {
    guard code != 0, !writeFailed.exchange(true, ordering: .relaxed) else { return }
    printToStandardError(
      "rawlockcheck: cannot write trace \(path): \(String(cString: strerror(code))); "
        + "the trace is incomplete\n")
  }

  /// `module` lines for `modules`.
  private static func write(modules: [ModuleRecord], to f: inout File) {
    for module in modules {
      var line = module
      line.path = writable(module.path, for: f.writer)
      // Cannot fail: the path made writable, the build-id hexadecimal.
      try? f.writer.module(line)
    }
  }

  /// `text` as `writer` can hold it: a text writer cannot hold a control
  /// character, so each is written as its escape (`\u{1B}`) rather than
  /// the declaration being lost; the binary encoding keeps it as it is.
  private static func writable(_ text: String, for writer: any TraceWriting) -> String {
    writer is TextTraceWriter ? TextTraceWriter.writable(text) : text
  }

  /// The signals that end the process after a flush.
  static let fatalSignals = [SIGSEGV, SIGBUS, SIGILL, SIGFPE, SIGABRT]

  /// The signals a run is stopped with (a CI job's time limit, Ctrl-C, a
  /// closed terminal), flushed before they end the process where their
  /// action is the default one: a program's own handler, or an ignored
  /// signal, is left as it is.
  static let stopSignals = [SIGTERM, SIGINT, SIGHUP]

  /// The actions the fatal signals had before the recorder's, by signal
  /// number (the Swift runtime's backtracer, a program's own handler, or
  /// the default): written before the handlers are installed, read by them.
  nonisolated(unsafe) static let previousActions = UnsafeMutablePointer<sigaction>.allocate(
    capacity: 65)

  private func installExitHandlers() {
    atexit { TraceRecorder.current?.flushAll() }
    for signal in Self.fatalSignals {
      var action = sigaction()
      action.__sigaction_handler.sa_sigaction = { signo, info, _ in
        // Best effort: flush what can be flushed, then let the action the
        // signal had before take it: the Swift runtime's crash report, a
        // program's own handler, or the default (which ends the process).
        TraceRecorder.current?.flushAll(fromSignal: true)
        sigaction(signo, TraceRecorder.previousActions + Int(signo), nil)
        // A fault (a positive code) happens again as the handler returns,
        // with its own address and context; a signal sent (`kill`,
        // `raise`, `abort()`) is sent again.
        if signo == SIGABRT || info == nil || info!.pointee.si_code <= 0 { raise(signo) }
      }
      // On the thread's alternate signal stack, where one was set up: a
      // stack overflow's fault leaves no room on the thread's own stack
      // to run a handler in.
      action.sa_flags = SA_SIGINFO | SA_ONSTACK | Int32(bitPattern: UInt32(SA_RESETHAND))
      sigaction(signal, &action, Self.previousActions + Int(signal))
    }
    for signal in Self.stopSignals {
      var old = sigaction()
      guard sigaction(signal, nil, &old) == 0, old.__sigaction_handler.sa_handler == nil
      else { continue }
      var action = sigaction()
      action.__sigaction_handler.sa_handler = { signo in
        TraceRecorder.current?.flushAll(fromSignal: true)
        Glibc.signal(signo, SIG_DFL)
        raise(signo)
      }
      sigemptyset(&action.sa_mask)
      sigaction(signal, &action, nil)
    }
  }
}

/// One thread's buffered events. Its thread appends, and anyone may flush:
/// the buffer has its own (uncontended) lock, taken after the file's (the
/// recorder takes a buffer under the file's lock; the thread appends
/// without it). Lock order: file, then buffer.
final class ThreadRecording: Sendable {
  private let recorder: TraceRecorder
  private let buffer: PThreadMutex<(writer: any TraceWriting, known: [Bool])>
  let thread: ThreadID
  /// Bytes buffered before the thread's events are written out.
  static let limit = 64 << 10

  init(recorder: TraceRecorder, thread: ThreadID, token: String, encoding: TraceEncoding) {
    self.recorder = recorder
    self.thread = thread
    var writer = encoding.makeWriter(capacity: Self.limit + 256)
    writer.knowThread(thread, token: token)
    buffer = PThreadMutex((writer, []))
  }

  /// Appends one event of this thread.
  func record(_ event: LockEvent) {
    if event.verb == .free || event.verb == .initLock || !event.origin.stack.isNone {
      // A free or init: a reader checks it against every thread's held
      // locks. An event with a stack: the live validator found something
      // new there (a chain, a finding), and a reader must meet it where the
      // live one did, before the other threads' events that came after it
      // (which took the chain as known, and carry no stack).
      recorder.record(inOrder: event, into: self)
      return
    }
    if buffer.withLock({ append(event, to: &$0) }) { flush() }
  }

  /// Appends `event`, and takes the buffer (the recorder writes it under
  /// the file's lock, which it holds).
  func appendAndTake(_ event: LockEvent) -> [UInt8] {
    buffer.withLock { b in
      _ = append(event, to: &b)
      return b.writer.take()
    }
  }

  /// Appends `event` to buffer `b` (with the class and stack tokens it
  /// names, in text); whether the buffer is full.
  private func append(
    _ event: LockEvent, to b: inout (writer: any TraceWriting, known: [Bool])
  ) -> Bool {
    for id in [event.lockClass, event.nest] where id != .none {
      if id.index >= b.known.count {
        b.known.append(contentsOf: repeatElement(false, count: id.index + 1 - b.known.count))
      }
      if !b.known[id.index] {
        b.known[id.index] = true
        b.writer.knowClass(id, token: recorder.classToken(id))
      }
    }
    if !event.origin.stack.isNone {
      b.writer.knowStack(event.origin.stack, token: "s\(event.origin.stack.raw)")
    }
    b.writer.event(event)
    return b.writer.byteCount >= Self.limit
  }

  /// Writes the buffered events to the file.
  func flush(fromSignal: Bool = false) {
    recorder.flush(self, fromSignal: fromSignal)
  }

  /// The buffered events, taken out (the recorder writes them under the
  /// file's lock).
  func take() -> [UInt8] {
    buffer.withLock { $0.writer.take() }
  }

  /// Writes the buffered events to `descriptor` in place, unless the
  /// buffer's lock is busy (from a signal handler: nothing allocated or
  /// freed, no lock waited for).
  func writeIfAvailable(to descriptor: Int32) {
    _ = buffer.withLockIfAvailable { b in
      b.writer.flush { bytes in
        var offset = 0
        while offset < bytes.count {
          let n = Glibc.write(descriptor, bytes.baseAddress! + offset, bytes.count - offset)
          if n < 0 && errno == EINTR { continue }
          if n <= 0 { return }
          offset += n
        }
      }
    }
  }

  /// Records a new name of this thread.
  func name(_ name: String) {
    flush()
    recorder.nameThread(thread, name)
  }
}
