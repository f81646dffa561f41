import Basics
import Synchronization

#if canImport(Glibc)
  import Glibc
#elseif canImport(Darwin)
  import Darwin
#endif

/// A regular file's bytes mapped into memory, so that the binary reader
/// decodes them in place, from the page cache: `read()` copied every byte
/// once more, 4 to 8 % of a binary `report`.
///
/// The bytes behind the reader are given back as it goes
/// (`release(before:)`), so that the process's resident memory stays
/// bounded by a window, not the file. A file that shrinks while it is
/// mapped makes a read past its new end fault (`SIGBUS`), as does a page
/// the system cannot read: the process then ends with a one-line error
/// naming the file and status 2 (`MappingFaultGuard`), where a `read()`
/// would have read a shorter file or failed. Only where mapping is enabled
/// (`TraceReading.mapsFiles`: the `rawlockcheck` command).
///
/// Invariant: `bytes` lies within the mapping `[base, base + length)`, and
/// `[base, base + released)` has been given back.
struct MappedTraceFile: ~Copyable {
  /// The stream's bytes: the file from the descriptor's offset to its end.
  let bytes: UnsafeRawBufferPointer
  private let base: UnsafeMutableRawPointer
  private let length: Int
  private let guardSlot: Int
  private var released = 0
  /// A duplicate of the file's descriptor, kept to tell whether it shrank
  /// (`shrunkSize()`); -1 when none could be made.
  private let fd: Int32
  /// The file offset of `bytes`' first byte.
  private let start: UInt64

  /// Bytes given back at a time: small beside the validator's own memory.
  static let releaseStep = 1 << 20

  /// Maps the `size` bytes of `fd` from its offset `start`, or nil (the
  /// caller reads instead): an empty file, a mapping the system refuses,
  /// or no slot left to guard it. `fd` stays the caller's.
  init?(fd: Int32, start: UInt64, size: UInt64, name: String) {
    guard size > 0, size <= UInt64(Int.max / 2) else { return nil }
    let page = UInt64(max(sysconf(Int32(_SC_PAGESIZE)), 4096))
    let mapStart = start / page * page
    let delta = Int(start - mapStart)
    let length = delta + Int(size)
    guard let slot = MappingFaultGuard.reserveSlot() else { return nil }
    guard
      let base = mmap(nil, length, PROT_READ, MAP_PRIVATE, fd, off_t(mapStart)),
      base != MAP_FAILED
    else {
      MappingFaultGuard.free(slot)
      return nil
    }
    madvise(base, length, MADV_SEQUENTIAL)
    MappingFaultGuard.guardRange(slot, start: base, length: length, name: name)
    self.base = base
    self.length = length
    self.guardSlot = slot
    self.fd = fcntl(fd, F_DUPFD_CLOEXEC, 0)
    self.start = start
    self.bytes = UnsafeRawBufferPointer(start: base + delta, count: Int(size))
  }

  deinit {
    // The range is no longer guarded before another mapping may take it.
    MappingFaultGuard.free(guardSlot)
    munmap(base, length)
    if fd >= 0 { close(fd) }
  }

  /// The stream's size now, when the file is shorter than it was mapped:
  /// it shrank while it was read. A read past the new end faults only
  /// from the next page on; the rest of the last page reads as zeros,
  /// which a reader would take for records, so it asks this when it stops.
  func shrunkSize() -> UInt64? {
    var info = stat()
    guard fd >= 0, fstat(fd, &info) == 0 else { return nil }
    let now = UInt64(max(0, info.st_size))
    let size = now > start ? now - start : 0
    return size < UInt64(bytes.count) ? size : nil
  }

  /// Gives back the pages wholly before `offset` (of `bytes`), read for
  /// good: they leave the process's resident memory (a later read of them
  /// would read the file again).
  mutating func release(before offset: Int) {
    let end = (bytes.baseAddress! - UnsafeRawPointer(base)) + offset
    guard end - released >= Self.releaseStep else { return }
    let page = max(sysconf(Int32(_SC_PAGESIZE)), 4096)
    let upTo = end / page * page
    madvise(base + released, upTo - released, MADV_DONTNEED)
    released = upTo
  }
}

/// Ends the process with a one-line error, status 2, when a mapped trace
/// faults because its file shrank while it was read, or a page of it could
/// not be read (`SIGBUS` at an address of a mapping it guards): the same
/// outcome as the fault's default action, which ends the process, but
/// saying why. A `SIGBUS`
/// elsewhere gets the action `SIGBUS` had before (the Swift runtime's
/// backtracer, a program's own handler, or the default), put back. Installed
/// with the first mapping.
enum MappingFaultGuard {
  /// Mappings guarded at once; a reader beyond them reads instead.
  static let slotCount = 16

  /// Per slot: the mapping's first and past-the-end addresses (0 and 0:
  /// free; 1 and 0: reserved), and its message (a C string).
  final class Slots: @unchecked Sendable {
    let words: UnsafeMutablePointer<Atomic<UInt>>
    init() {
      words = .allocate(capacity: 3 * MappingFaultGuard.slotCount)
      for i in 0..<3 * MappingFaultGuard.slotCount { (words + i).initialize(to: Atomic(0)) }
    }
    subscript(i: Int) -> Atomic<UInt> { unsafeAddress { UnsafePointer(words + i) } }
  }
  static let slots = Slots()
  /// Whether the handler was installed, under a lock: a second reader
  /// waits for the first one's `sigaction` before it maps a file.
  static let installed = PThreadMutex(false)
  /// Whether files are mapped at all: off by default, so that a program
  /// that reads traces through the library keeps its `SIGBUS` handling and
  /// gets an error, not an exit, from a trace that shrinks; the
  /// `rawlockcheck` command turns it on (`TraceReading.mapsFiles`).
  static let enabled = Atomic<Bool>(false)

  /// A free slot, marked reserved, or nil; installs the handler first.
  static func reserveSlot() -> Int? {
    guard enabled.load(ordering: .relaxed) else { return nil }
    // The table exists before the handler can run (it is made lazily,
    // which a signal handler must not do).
    _ = slots
    installed.withLock { installed in
      if !installed { install() }
      installed = true
    }
    for slot in 0..<slotCount
    where slots[3 * slot].compareExchange(
      expected: 0, desired: 1, ordering: .acquiringAndReleasing
    ).exchanged {
      return slot
    }
    return nil
  }

  /// Guards `[start, start + length)` in `slot`, for the trace `name`.
  static func guardRange(_ slot: Int, start: UnsafeMutableRawPointer, length: Int, name: String) {
    let message =
      "rawlockcheck: \(name): the file shrank, or could not be read, while it was read\n"
    let text = strdup(message).map { UInt(bitPattern: $0) } ?? 0
    slots[3 * slot + 2].store(text, ordering: .releasing)
    slots[3 * slot + 1].store(UInt(bitPattern: start) + UInt(length), ordering: .releasing)
    slots[3 * slot].store(UInt(bitPattern: start), ordering: .releasing)
  }

  /// Frees `slot` (reserved or guarding).
  static func free(_ slot: Int) {
    slots[3 * slot + 1].store(0, ordering: .releasing)
    let text = slots[3 * slot + 2].exchange(0, ordering: .acquiringAndReleasing)
    slots[3 * slot].store(0, ordering: .releasing)
    if text != 0 { Glibc.free(UnsafeMutableRawPointer(bitPattern: text)) }
  }

  /// The action `SIGBUS` had before (the Swift runtime's backtracer, a
  /// program's handler, or the default), which a fault elsewhere gets.
  nonisolated(unsafe) static var previous = sigaction()

  private static func install() {
    var action = sigaction()
    action.__sigaction_handler.sa_sigaction = { _, info, _ in
      guard let info else { return }
      // A positive code is a fault, with its address; zero or less, a
      // signal sent (`kill`), which has none.
      let sent = info.pointee.si_code <= 0
      MappingFaultGuard.fault(
        at: sent ? 0 : UInt(bitPattern: info.pointee._sifields._sigfault.si_addr), sent: sent)
    }
    action.sa_flags = SA_SIGINFO
    sigemptyset(&action.sa_mask)
    sigaction(SIGBUS, &action, &previous)
  }

  /// The handler: only async-signal-safe calls (`write`, `strlen`,
  /// `_exit`, `sigaction`, `raise`).
  static func fault(at address: UInt, sent: Bool) {
    for slot in 0..<slotCount {
      let start = slots[3 * slot].load(ordering: .acquiring)
      let end = slots[3 * slot + 1].load(ordering: .acquiring)
      guard start > 1, address >= start, address < end else { continue }
      let text = slots[3 * slot + 2].load(ordering: .acquiring)
      if let message = UnsafePointer<CChar>(bitPattern: text) {
        _ = write(2, message, strlen(message))
      }
      _exit(2)
    }
    // Not a trace's: the action before, when the fault happens again as
    // the instruction runs again (a signal sent is sent again).
    sigaction(SIGBUS, &previous, nil)
    if sent { raise(SIGBUS) }
  }
}

/// How the trace readers read files.
public enum TraceReading {
  /// Whether a binary trace in a regular file that no process is writing
  /// is mapped and decoded in place (`MappedTraceFile`) rather than read
  /// through a buffer: faster, but a file that shrinks meanwhile, or a page
  /// that cannot be read, ends the process with a one-line error and
  /// status 2 (it installs a `SIGBUS` handler, which passes other faults on
  /// to the handler before it). Off by default; the `rawlockcheck` command
  /// turns it on.
  public static var mapsFiles: Bool {
    get { MappingFaultGuard.enabled.load(ordering: .relaxed) }
    set { MappingFaultGuard.enabled.store(newValue, ordering: .relaxed) }
  }
}
