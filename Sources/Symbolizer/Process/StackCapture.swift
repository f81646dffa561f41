import CElfutils
import Glibc

/// Captures the return addresses of the calling thread's stack.
///
/// The fast path walks the frame-pointer chain (`[rbp] = caller's rbp`,
/// `[rbp+8] = return address`) and never reads outside the current thread's
/// stack: every frame pointer must lie inside the thread's stack bounds, be
/// 8-byte aligned, and be strictly above the previous one, so a corrupt or
/// missing chain ends the walk instead of faulting. The bounds come from
/// `pthread_getattr_np` once per thread and are cached in thread-specific
/// data. Capturing allocates nothing.
public enum StackCapture {
  /// Writes up to `buffer.count` return addresses, innermost first, starting
  /// with the return address into the caller of `capture` (after dropping
  /// `skip` more), and returns how many were written.
  ///
  /// With `ip` (a return address, 0 for none) found among the first
  /// `searchDepth` frames, the stack starts there instead: at a call site,
  /// whatever frames of the capturing code lie above it.
  ///
  /// Falls back to `backtrace()` when the frame-pointer chain cannot be
  /// started (no frame pointer in this build, or a frame outside the
  /// thread's stack); the fallback may allocate on its first use (glibc
  /// loads the unwinder), and starts after `skip` frames whatever `ip`.
  @inline(never)
  public static func capture(
    into buffer: UnsafeMutableBufferPointer<UInt64>, skip: Int = 0, from ip: UInt64 = 0
  ) -> Int {
    guard buffer.count > 0 else { return 0 }
    let bounds = ThreadStackBounds.current()
    let fp = UInt(bitPattern: rlc_frame_address())
    guard bounds.contains(frame: fp) else {
      return captureWithBacktrace(into: buffer, skip: skip + 1)
    }
    let start = ip == 0 ? skip : position(of: ip, from: fp, within: bounds) ?? skip
    return walk(from: fp, within: bounds, into: buffer, skip: start)
  }

  /// How many frames `capture(into:skip:from:)` searches for its `ip`.
  public static let searchDepth = 64

  /// Makes what a capture needs once per process (the key of the threads'
  /// cached stack bounds), so that a first capture in a signal handler
  /// initializes nothing.
  public static func prepare() {
    _ = ThreadStackBounds.cached()
  }

  /// Computes the calling thread's stack bounds now (outside a signal
  /// handler: it allocates), so that a handler that runs on this thread
  /// before anything else captured here gets its stack
  /// (`captureWithoutAllocating` captures nothing without them).
  public static func prepareCallingThread() {
    _ = ThreadStackBounds.current()
  }

  /// `capture` for a signal handler, on a thread that may never have
  /// captured before or on a stack other than the thread's own (an
  /// alternate signal stack): allocates nothing and never falls back to
  /// `backtrace()`. A frame inside the thread's cached bounds is walked
  /// as `capture` walks it. Elsewhere (bounds never computed, or a frame
  /// outside them), the walk is kept between the current frame and the
  /// top of the thread's stack found without allocating
  /// (`rlc_stack_top_without_allocating`; where none is, by the rising
  /// frame pointers alone), and each frame record above its own is copied
  /// through the kernel (`rlc_read_frame`): there, guard pages and holes
  /// may lie within the range. Captures nothing (returns 0) where the
  /// frame-pointer chain cannot be started.
  @inline(never)
  public static func captureWithoutAllocating(
    into buffer: UnsafeMutableBufferPointer<UInt64>, skip: Int = 0, from ip: UInt64 = 0
  ) -> Int {
    guard buffer.count > 0 else { return 0 }
    let fp = UInt(bitPattern: rlc_frame_address())
    if let cached = ThreadStackBounds.cached(), cached.contains(frame: fp) {
      let start = ip == 0 ? skip : position(of: ip, from: fp, within: cached) ?? skip
      return walk(from: fp, within: cached, into: buffer, skip: start)
    }
    // No top known (a frame on an alternate stack above the thread's):
    // the walk is bounded by its rising frame pointers and the kernel's
    // copies alone.
    let top = rlc_stack_top_without_allocating(fp)
    let bounds = ThreadStackBounds(low: fp, high: top != 0 ? top : UInt.max)
    guard bounds.contains(frame: fp) else { return 0 }
    let start =
      ip == 0 ? skip : position(of: ip, from: fp, within: bounds, checked: true) ?? skip
    return walk(from: fp, within: bounds, into: buffer, skip: start, checked: true)
  }

  /// The index of the frame returning to `ip` among the first
  /// `searchDepth` of the chain from frame `start` (as `walk` counts
  /// them), or nil. `checked`: as `walk`'s.
  @inline(__always)
  private static func position(
    of ip: UInt64, from start: UInt, within bounds: ThreadStackBounds, checked: Bool = false
  ) -> Int? {
    var chain = FrameChain(start, within: bounds, checked: checked)
    for index in 0..<searchDepth {
      if chain.returnAddress == 0 { return nil }
      if UInt64(chain.returnAddress) == ip { return index }
      guard chain.advance() else { return nil }
    }
    return nil
  }

  /// Follows the frame-pointer chain from frame `fp` (the capturing
  /// function's own, which is read as it is) inside `bounds`. `checked`:
  /// every later frame record is copied through the kernel
  /// (`rlc_read_frame`), for bounds that may hold unreadable pages.
  @inline(__always)
  static func walk(
    from start: UInt, within bounds: ThreadStackBounds,
    into buffer: UnsafeMutableBufferPointer<UInt64>, skip: Int, checked: Bool = false
  ) -> Int {
    let out = buffer.baseAddress!
    var chain = FrameChain(start, within: bounds, checked: checked)
    var toSkip = skip
    var count = 0
    while count < buffer.count {
      if chain.returnAddress == 0 { break }
      if toSkip > 0 {
        toSkip -= 1
      } else {
        out[count] = UInt64(chain.returnAddress)
        count += 1
      }
      guard chain.advance() else { break }
    }
    return count
  }

  /// Captures with glibc's `backtrace()` (the DWARF unwinder). Slower than
  /// `capture`, but independent of frame pointers; the first entry is the
  /// return address into the caller of this function (after `skip`).
  @inline(never)
  public static func captureWithBacktrace(
    into buffer: UnsafeMutableBufferPointer<UInt64>, skip: Int = 0
  ) -> Int {
    guard let out = buffer.baseAddress, buffer.count > 0 else { return 0 }
    // backtrace()'s first entry is this function itself.
    let drop = skip + 1
    let capacity = 256
    guard let raw = malloc(capacity * MemoryLayout<UnsafeMutableRawPointer?>.stride) else {
      return 0
    }
    defer { free(raw) }
    let entries = raw.assumingMemoryBound(to: UnsafeMutableRawPointer?.self)
    let got = Int(backtrace(entries, Int32(capacity)))
    var count = 0
    var index = drop
    while index < got, count < buffer.count {
      out[count] = UInt64(UInt(bitPattern: entries[index]))
      count += 1
      index += 1
    }
    return count
  }
}

/// A position in a frame-pointer chain: a frame record (`[fp]` the
/// caller's frame pointer, `[fp+8]` the return address) already read.
///
/// Invariant: each frame after the first lies inside `bounds`, strictly
/// above the one before (so a walk ends), and was read by the kernel when
/// `checked` (`rlc_read_frame`, a copy that fails where a read would
/// fault, even if another thread unmaps or protects the page meanwhile; a
/// check and then a read could fault in between) or directly otherwise.
struct FrameChain {
  private(set) var fp: UInt
  private(set) var next: UInt
  private(set) var returnAddress: UInt
  let bounds: ThreadStackBounds
  let checked: Bool

  /// The chain at frame `fp`, which is read directly: the caller's own
  /// frame.
  @inline(__always)
  init(_ fp: UInt, within bounds: ThreadStackBounds, checked: Bool) {
    let frame = UnsafePointer<UInt>(bitPattern: fp)!
    self.fp = fp
    self.next = frame[0]
    self.returnAddress = frame[1]
    self.bounds = bounds
    self.checked = checked
  }

  /// Moves to the caller's frame; false (unmoved) where the chain ends:
  /// a frame pointer not above this one, outside the bounds, or (checked)
  /// not readable.
  @inline(__always)
  mutating func advance() -> Bool {
    guard next > fp, bounds.contains(frame: next) else { return false }
    if checked {
      // A struct, not a tuple: a tuple's type metadata is made (allocated)
      // at its first use in the process, which a signal handler that
      // interrupted malloc cannot do (it waited forever for malloc's lock).
      var record = FrameWords()
      let read = withUnsafeMutablePointer(to: &record) {
        rlc_read_frame(next, UnsafeMutableRawPointer($0)) != 0
      }
      guard read else { return false }
      fp = next
      next = record.next
      returnAddress = record.returnAddress
    } else {
      let frame = UnsafePointer<UInt>(bitPattern: next)!
      fp = next
      (next, returnAddress) = (frame[0], frame[1])
    }
    return true
  }
}

/// A frame record as `rlc_read_frame` copies it: the caller's frame
/// pointer, then the return address.
struct FrameWords {
  var next: UInt = 0
  var returnAddress: UInt = 0
}

/// The address range of the current thread's stack, cached per thread.
///
/// Invariant: `low < high` whenever the range is known; an unknown range is
/// `0..<0` (or any with `high` 0), which no frame pointer satisfies (so
/// capture falls back).
struct ThreadStackBounds {
  var low: UInt
  var high: UInt

  /// Whether a frame record (two words) at `fp` lies inside the stack.
  @inline(__always)
  func contains(frame fp: UInt) -> Bool {
    // `high` 0 (unknown) must not wrap around to the whole address space.
    fp & 7 == 0 && fp >= low && high >= 16 && fp <= high - 16
  }

  /// The calling thread's bounds if a capture on this thread computed them
  /// already, else nil; never allocates (for signal handlers).
  @inline(__always)
  static func cached() -> ThreadStackBounds? {
    guard let cached = pthread_getspecific(stackBoundsKey) else { return nil }
    let words = cached.assumingMemoryBound(to: UInt.self)
    return ThreadStackBounds(low: words[0], high: words[1])
  }

  /// The calling thread's bounds; computed on the first call in each thread.
  @inline(__always)
  static func current() -> ThreadStackBounds {
    let key = stackBoundsKey
    if let cached = pthread_getspecific(key) {
      let words = cached.assumingMemoryBound(to: UInt.self)
      return ThreadStackBounds(low: words[0], high: words[1])
    }
    return computeAndCache(key: key)
  }

  @inline(never)
  private static func computeAndCache(key: pthread_key_t) -> ThreadStackBounds {
    var bounds = ThreadStackBounds(low: 0, high: 0)
    var attr = pthread_attr_t()
    if pthread_getattr_np(pthread_self(), &attr) == 0 {
      var address: UnsafeMutableRawPointer?
      var size = 0
      if pthread_attr_getstack(&attr, &address, &size) == 0, let address {
        let low = UInt(bitPattern: address)
        bounds = ThreadStackBounds(low: low, high: low + UInt(size))
      }
      pthread_attr_destroy(&attr)
    }
    if let words = malloc(2 * MemoryLayout<UInt>.size)?.assumingMemoryBound(to: UInt.self) {
      words[0] = bounds.low
      words[1] = bounds.high
      pthread_setspecific(key, words)
    }
    return bounds
  }
}

/// The thread-specific-data key holding each thread's cached stack bounds;
/// the value is freed when the thread exits.
private let stackBoundsKey: pthread_key_t = {
  var key = pthread_key_t()
  pthread_key_create(&key) { free($0) }
  return key
}()
