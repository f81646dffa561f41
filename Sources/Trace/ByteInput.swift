#if canImport(Glibc)
  import Glibc
#elseif canImport(Darwin)
  import Darwin
#endif

/// Why decoding a binary trace stopped before its end.
enum BinaryStop: Error {
  /// The input ended inside a record.
  case truncated
  /// A record breaks the format; the message says how.
  case malformed(String)
  /// The file could not be read.
  case io(String)
  /// The consumer refused the event read at this offset.
  case refused(at: UInt64, String)
  /// The reading's interruption gave this reason while a pipe's next
  /// bytes were waited for (`InputWait`).
  case interrupted(String)
}

/// The bytes of a binary trace, read from a file through one fixed buffer,
/// or mapped (a regular file no process is writing: `MappedTraceFile`),
/// or held in memory, handed out a field at a time.
///
/// Invariant: `buffer[position..<end]` holds bytes read but not yet
/// consumed, and `base` is the file offset of `buffer[0]`. A mapped file
/// is `buffer` whole (`end` its size, nothing more to read) and is never
/// written to.
struct ByteInput: ~Copyable {
  /// The buffer: the longest string a record may hold, and room to spare.
  static let bufferSize = BinaryTraceFormat.maxStringLength + (64 << 10)
  private let fd: Int32
  private let buffer: UnsafeMutableRawBufferPointer
  private var position = 0
  private var end = 0
  private var base: UInt64 = 0
  private var atEOF = false
  /// The file's size, when it is a regular file (or the bytes in memory).
  let fileSize: UInt64?
  /// Asked while a pipe is waited for (`InputWait`): a reason ends the
  /// reading (`BinaryStop.interrupted`).
  var interruption: TraceInterruption? = nil
  /// Given every byte read after the first ones (`TraceTee`).
  private var tee: TraceTee? = nil
  /// The file, when it is mapped (`buffer` is its bytes).
  private var mapped: MappedTraceFile?

  /// Opens `path` (called `name` in errors); throws a message saying why
  /// it cannot be read.
  init(path: String, name: String) throws(BinaryStop) {
    let opened: OpenedTraceInput
    do {
      opened = try OpenedTraceInput(path: path)
    } catch {
      throw .io(error.message)
    }
    self.init(opened: opened, name: name)
  }

  /// Reads an opened trace: its first bytes, then the rest of its
  /// descriptor (which it closes). A regular file that no process holds
  /// for writing is mapped, from its first byte again (`name` is its
  /// name in the error a fault in it gives).
  init(opened: OpenedTraceInput, name: String) {
    self.fileSize = opened.fileSize
    if let size = opened.fileSize, opened.writer == nil, opened.tee == nil,
      let file = opened.map(size: size, name: name)
    {
      self.buffer = UnsafeMutableRawBufferPointer(mutating: file.bytes)
      self.end = file.bytes.count
      self.fd = -1
      self.atEOF = true
      self.mapped = consume file
      return
    }
    (buffer, end, fd) = opened.take(intoBufferOf: Self.bufferSize)
    tee = opened.tee
  }

  /// Reads `bytes` from memory.
  init(bytes: [UInt8]) {
    let buffer = UnsafeMutableRawBufferPointer.allocate(
      byteCount: max(bytes.count, 1), alignment: 16)
    bytes.withUnsafeBytes { buffer.copyMemory(from: $0) }
    self.fd = -1
    self.buffer = buffer
    self.end = bytes.count
    self.atEOF = true
    self.fileSize = UInt64(bytes.count)
  }

  deinit {
    if fd >= 0 { close(fd) }
    // A mapped file is unmapped with `mapped`.
    if mapped == nil { buffer.deallocate() }
  }

  /// The file offset of the next byte.
  var offset: UInt64 { base + UInt64(position) }
  /// Bytes read from the file so far.
  var bytesRead: UInt64 { base + UInt64(end) }
  /// How far through the file the reader is, for a progress bar: the bytes
  /// read, or of a mapped file (all of which is "read" at once), consumed.
  var progressOffset: UInt64 { mapped == nil ? bytesRead : offset }

  /// Why the bytes read may not be the file's, when a mapped file shrank
  /// while it was read: what the reader says instead of what it read
  /// (the zeros that fill the last page past the new end) or as well.
  var shrinkage: (size: UInt64, message: String)? {
    guard let now = mapped?.shrunkSize() else { return nil }
    return (
      now, "the file shrank while it was read: it ended after \(now) of its \(end) bytes"
    )
  }

  /// Gives back the pages of a mapped file before the reader
  /// (`MappedTraceFile.release(before:)`); nothing for a file read.
  mutating func releaseConsumed() {
    mapped?.release(before: position)
  }

  /// True when a byte is left (reading more when the buffer is empty).
  mutating func hasMore() throws(BinaryStop) -> Bool {
    if position < end { return true }
    while position == end && !atEOF { try fill() }
    return position < end
  }

  /// The next byte.
  @inline(__always)
  mutating func byte() throws(BinaryStop) -> UInt8 {
    if position == end { try need(1) }
    let b = buffer.load(fromByteOffset: position, as: UInt8.self)
    position += 1
    return b
  }

  /// The next LEB128 number (at most ten bytes, at most 64 bits).
  @inline(__always)
  mutating func varint() throws(BinaryStop) -> UInt64 {
    if end - position >= 10 {
      let first = buffer.load(fromByteOffset: position, as: UInt8.self)
      if first < 0x80 {
        position += 1
        return UInt64(first)
      }
    }
    var result: UInt64 = 0
    var shift: UInt64 = 0
    while true {
      let b = try byte()
      if shift == 63 && b > 1 {
        // 0x80, 0x81: a padding byte past the tenth; else bits past 64.
        throw .malformed(
          b & 0x7E == 0 ? "number longer than 10 bytes" : "number wider than 64 bits")
      }
      result |= UInt64(b & 0x7F) << shift
      if b < 0x80 { return result }
      shift += 7
    }
  }

  /// Bytes buffered and not yet consumed: the unchecked reads below may
  /// read that many.
  @inline(__always)
  var buffered: Int { end - position }

  /// The next byte, left unconsumed (`buffered` at least 1).
  @inline(__always)
  func peek() -> UInt8 { buffer.load(fromByteOffset: position, as: UInt8.self) }

  /// The next byte's address, for a loop that decodes the `buffered` bytes
  /// in place and then consumes what it read with `skip(_:)`. Valid until
  /// the next call that may read more (any other read).
  @inline(__always)
  var cursor: UnsafeRawPointer { UnsafeRawPointer(buffer.baseAddress.unsafelyUnwrapped + position) }

  /// Consumes `count` bytes read through `cursor` (at most `buffered`).
  @inline(__always)
  mutating func skip(_ count: Int) { position &+= count }

  /// The next `count` bytes, valid until the next call
  /// (`count` at most `bufferSize`).
  mutating func take(_ count: Int) throws(BinaryStop) -> UnsafeRawBufferPointer {
    if end - position < count { try need(count) }
    let result = UnsafeRawBufferPointer(
      start: buffer.baseAddress! + position, count: count)
    position += count
    return result
  }

  /// Reads until `count` bytes are buffered; `.truncated` when the input ends first.
  private mutating func need(_ count: Int) throws(BinaryStop) {
    precondition(count <= buffer.count || fd < 0, "a field fits the buffer")
    while end - position < count {
      if atEOF { throw .truncated }
      try fill()
    }
  }

  /// Moves the unread bytes to the front and reads more after them.
  private mutating func fill() throws(BinaryStop) {
    if fd < 0 {
      atEOF = true
      return
    }
    if position > 0 {
      let remaining = end - position
      if remaining > 0 {
        memmove(buffer.baseAddress!, buffer.baseAddress! + position, remaining)
      }
      base += UInt64(position)
      position = 0
      end = remaining
    }
    let space = buffer.count - end
    if space == 0 { return }
    if fileSize == nil, let reason = InputWait.interruptedBeforeInput(on: fd, interruption) {
      throw .interrupted(reason)
    }
    let n = read(fd, buffer.baseAddress! + end, space)
    if n < 0 {
      if errno == EINTR { return }
      throw .io("read failed: \(String(cString: strerror(errno)))")
    }
    if n > 0, let tee,
      let failure = tee(UnsafeRawBufferPointer(start: buffer.baseAddress! + end, count: n))
    {
      throw .io(failure)
    }
    if n == 0 { atEOF = true }
    end += n
  }
}

/// Maps the ids a binary trace chooses to dense slots 0, 1, 2, ... in the
/// order they were declared. Memory grows with the number of ids declared,
/// never with an id's value: small ids go to an array, ids far beyond the
/// declared count to a dictionary.
struct IDTable {
  private var dense: [Int32] = []
  private var sparse: [UInt64: Int32] = [:]
  /// The number of ids declared.
  private(set) var count = 0

  /// How many ids the array part covers (ids `0..<denseCount`, declared
  /// or not); an id past it may still be declared (`find(_:)` knows).
  var denseCount: Int { dense.count }

  /// The slot of `id`, or nil when it was not declared.
  @inline(__always)
  func find(_ id: UInt64) -> Int? {
    if id < UInt64(dense.count) {
      let slot = dense[Int(id)]
      if slot >= 0 { return Int(slot) }
    }
    if sparse.isEmpty { return nil }
    return sparse[id].map(Int.init)
  }

  /// Declares `id` (not declared yet); returns its slot.
  mutating func insert(_ id: UInt64) -> Int {
    let slot = Int32(count)
    count += 1
    if id < UInt64(dense.count) {
      dense[Int(id)] = slot
    } else if id < UInt64(2 * count + 4096) {
      dense.append(contentsOf: repeatElement(-1, count: Int(id) + 1 - dense.count))
      dense[Int(id)] = slot
    } else {
      sparse[id] = slot
    }
    return Int(slot)
  }
}
