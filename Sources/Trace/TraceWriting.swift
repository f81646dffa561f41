import Basics
import LockGraph
import WaitContext

/// The two trace encodings (`spec/trace-format.md`).
public enum TraceEncoding: String, Sendable, CaseIterable {
  /// Line-oriented UTF-8 (`spec/trace-format.md`).
  case text
  /// Compact records (`docs/binary-trace-format.md`).
  case binary

  /// The other encoding.
  public var other: TraceEncoding { self == .text ? .binary : .text }

  /// The encoding of a file that starts with `prefix` (its first four
  /// bytes, or fewer when the file is shorter).
  public static func detect(prefix: some Collection<UInt8>) -> TraceEncoding {
    BinaryTraceFormat.isBinary(prefix: prefix) ? .binary : .text
  }

  /// An empty writer of this encoding.
  public func makeWriter(capacity: Int = 0) -> any TraceWriting {
    switch self {
    case .text: TextTraceWriter(capacity: capacity)
    case .binary: BinaryTraceWriter(capacity: capacity)
    }
  }
}

/// What `TextTraceWriter` and `BinaryTraceWriter` both do, so a recorder or
/// a converter can write either.
public protocol TraceWriting: Sendable {
  /// The bytes written and not yet taken.
  var bytes: [UInt8] { get }
  /// How many bytes are written and not yet taken (`bytes.count`, without
  /// handing out the array: a recorder asks after every event).
  var byteCount: Int { get }
  /// The buffered bytes, leaving the buffer empty.
  mutating func take() -> [UInt8]
  /// Hands the buffered bytes to `write` in place and empties the buffer,
  /// keeping its capacity: nothing allocated or freed (what a signal
  /// handler may do); when `write` throws, the bytes stay.
  mutating func flush<E: Error>(_ write: (UnsafeRawBufferPointer) throws(E) -> Void) throws(E)
  /// The header (text) or magic and version (binary).
  mutating func header()
  /// A class declaration; throws, writing nothing, when the encoding
  /// cannot hold the key or name (text: a control character).
  mutating func declareClass(
    id: ClassID, key: String, name: String?, kind: LockKind, waits: ClassWaitTypes
  ) throws(TraceWriteError)
  /// A thread declaration (and its name, when given); throws, writing
  /// nothing, when the encoding cannot hold the token or name.
  mutating func declareThread(id: ThreadID, token: String, name: String?) throws(TraceWriteError)
  /// A new name for a declared thread; throws, writing nothing, when the
  /// encoding cannot hold it.
  mutating func nameThread(_ id: ThreadID, _ name: String) throws(TraceWriteError)
  /// A module of the process; throws, writing nothing, when the encoding
  /// cannot hold its path.
  mutating func module(_ module: ModuleRecord) throws(TraceWriteError)
  /// A stack, innermost address first (`token` is used by text only).
  mutating func stack(id: StackID, token: String?, addresses: [UInt64])
  /// One event.
  mutating func event(_ event: LockEvent)
  /// Tells a writer that only writes events the token of a class another
  /// writer declared (text names classes by token; binary by id, and
  /// ignores this).
  mutating func knowClass(_ id: ClassID, token: String)
  /// Tells an events-only writer the token of a thread declared elsewhere.
  mutating func knowThread(_ id: ThreadID, token: String)
  /// Tells an events-only writer the token of a stack declared elsewhere.
  mutating func knowStack(_ id: StackID, token: String)
}

extension TextTraceWriter: TraceWriting {
  /// Records the class's token (`TraceTokens.setClass`).
  public mutating func knowClass(_ id: ClassID, token: String) { tokens.setClass(id, token) }
  /// Records the thread's token (`TraceTokens.setThread`).
  public mutating func knowThread(_ id: ThreadID, token: String) { tokens.setThread(id, token) }
  /// Records the stack's token (`TraceTokens.setStack`).
  public mutating func knowStack(_ id: StackID, token: String) { tokens.setStack(id, token) }
}

extension BinaryTraceWriter: TraceWriting {
  /// Nothing: binary names classes by id.
  public mutating func knowClass(_ id: ClassID, token: String) {}
  /// Nothing: binary names threads by id.
  public mutating func knowThread(_ id: ThreadID, token: String) {}
  /// Nothing: binary names stacks by id.
  public mutating func knowStack(_ id: StackID, token: String) {}
}

/// A `TraceConsumer` that writes what it receives with `Writer`: reading a
/// trace into it re-emits the trace, in either encoding. Ids are handed out
/// in declaration order, as the validator does.
///
/// `TraceConsumer` does not see `module` and `stack` declarations (the
/// reader returns them at the end), so they are written up front from the
/// symbols of a first reading; text stacks get the tokens `s<n>`.
public struct TraceRewriter<Writer: TraceWriting>: TraceConsumer {
  /// The trace written so far (and not taken).
  public var writer: Writer
  private var classCount: Int32 = 0
  private var threadCount: Int32 = 0

  /// Starts a trace with `writer`: the header, then `symbols`' modules and
  /// stacks, each stack after the modules declared before it (a module
  /// that replaced another is one for the stacks after it only).
  /// - Throws: when the writer's encoding cannot hold a module's path.
  public init(writer: Writer, symbols: TraceSymbols = TraceSymbols()) throws(TraceWriteError) {
    self.writer = writer
    self.writer.header()
    let modules = symbols.modules
    var written = 0
    for (index, addresses) in symbols.stacks.enumerated() {
      let before = min(Int(symbols.modulesBefore[index]), modules.count)
      while written < before {
        try self.writer.module(modules[written])
        written += 1
      }
      self.writer.stack(id: StackID(Int32(index)), token: nil, addresses: addresses)
    }
    for module in modules[written...] { try self.writer.module(module) }
  }

  /// Writes a class declaration; throws when the writer cannot (the
  /// reader then names where the class came from).
  public mutating func declareClass(
    key: String, name: String?, kind: LockKind, waits: ClassWaitTypes
  ) throws(EventError) -> ClassID {
    let id = ClassID(classCount)
    do {
      try writer.declareClass(id: id, key: key, name: name, kind: kind, waits: waits)
    } catch {
      throw EventError(error.message)
    }
    classCount += 1
    return id
  }

  /// Writes a thread declaration; throws when the writer cannot.
  public mutating func declareThread(token: String, name: String?) throws(EventError) -> ThreadID {
    let id = ThreadID(threadCount)
    do {
      try writer.declareThread(id: id, token: token, name: name)
    } catch {
      throw EventError(error.message)
    }
    threadCount += 1
    return id
  }

  /// Writes a thread's name; throws when the writer cannot.
  public mutating func nameThread(_ id: ThreadID, _ name: String) throws(EventError) {
    do {
      try writer.nameThread(id, name)
    } catch {
      throw EventError(error.message)
    }
  }

  /// Writes an event.
  public mutating func consume(_ event: LockEvent) throws(EventError) {
    writer.event(event)
  }
}

/// Rewrites a trace as text (`TraceRewriter` with a `TextTraceWriter`).
public typealias TextTraceRewriter = TraceRewriter<TextTraceWriter>

extension TraceRewriter where Writer == TextTraceWriter {
  /// Starts a text trace: the header, then `symbols`' modules and stacks.
  /// - Throws: when a module's path holds a control character.
  public init(symbols: TraceSymbols = TraceSymbols()) throws(TraceWriteError) {
    try self.init(writer: TextTraceWriter(), symbols: symbols)
  }
}

/// What both trace writers do with their buffered bytes.
enum TraceBuffer {
  /// Hands `bytes` to `write` and empties them (keeping their capacity);
  /// when `write` throws, the bytes stay.
  static func flush<E: Error>(
    _ bytes: inout [UInt8], _ write: (UnsafeRawBufferPointer) throws(E) -> Void
  ) throws(E) {
    if bytes.isEmpty { return }
    var failure: E? = nil
    bytes.withUnsafeBytes { buffer in
      do throws(E) {
        try write(buffer)
      } catch {
        failure = error
      }
    }
    if let failure { throw failure }
    bytes.removeAll(keepingCapacity: true)
  }
}
