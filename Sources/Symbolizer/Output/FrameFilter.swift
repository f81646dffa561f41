/// Removes the validator's own frames from a symbolized stack.
///
/// Frames are matched by what they are, never by position: a frame is
/// dropped when its function starts with one of `functionPrefixes` (matched
/// against both the demangled and the linkage name) or when its module's
/// file name is one of `modules`. Only the leading run of matching frames is
/// removed (the machinery sits at the innermost end of a captured stack), so
/// a user callback that happens to be called from inside the validator
/// deeper down is kept.
public struct FrameFilter: Sendable, Hashable {
  /// Prefixes of the functions of the machinery.
  public var functionPrefixes: [String]
  /// File names (last path component) of the machinery's modules.
  public var modules: [String]
  /// Whether the compiler's code that only destroys what an object or
  /// value holds is machinery too: a deallocating `deinit`, a `deinit`
  /// without a source line (one the compiler made), an outlined destroy,
  /// release or consume (`compilerMadeRelease(_:)`).
  public var dropsCompilerMadeReleases: Bool

  /// A filter of the leading frames whose function starts with one of
  /// `functionPrefixes` or whose module is one of `modules` (and, with
  /// `dropsCompilerMadeReleases`, of the compiler's release code).
  public init(
    functionPrefixes: [String] = [], modules: [String] = [], dropsCompilerMadeReleases: Bool = false
  ) {
    self.functionPrefixes = functionPrefixes
    self.modules = modules
    self.dropsCompilerMadeReleases = dropsCompilerMadeReleases
  }

  /// Whether `frame` belongs to the filtered machinery.
  public func matches(_ frame: Frame) -> Bool {
    for prefix in functionPrefixes {
      if frame.function?.hasPrefix(prefix) == true || frame.linkageName?.hasPrefix(prefix) == true {
        return true
      }
    }
    if let name = frame.moduleName, modules.contains(name) { return true }
    return dropsCompilerMadeReleases && Self.compilerMadeRelease(frame)
  }

  /// Whether `frame` is Swift code the compiler made to destroy what an
  /// object or value holds, by its mangled name's suffix: a deallocating
  /// `deinit` (`fD`, `fZ` isolated), a `deinit` without a source line
  /// (`fd`: a class's implicit one, or a user's past its body), an outlined
  /// destroy, release or consume (`WOh`, `WOs`, `WOe`). A specialization's
  /// suffix (`Tf4d_n`) hides them: such a frame is kept.
  static func compilerMadeRelease(_ frame: Frame) -> Bool {
    guard let name = frame.linkageName, name.hasPrefix("$s") else { return false }
    if name.hasSuffix("fD") || name.hasSuffix("fZ") { return true }
    if name.hasSuffix("fd") { return frame.line == 0 }
    return name.hasSuffix("WOh") || name.hasSuffix("WOs") || name.hasSuffix("WOe")
  }

  /// rawlockcheck's own machinery: the Swift modules `Lockdep`,
  /// `LockdepTesting` and the validator engine `LockGraph` (by their
  /// mangled prefix, so user functions that only mention them are kept),
  /// the symbolizer's stack capture (`StackCapture`: under ThreadSanitizer
  /// `backtrace()`'s interceptor adds a frame, and a thread-exit report's
  /// stack began with the capture itself), and the C shims (`rlc_`); and
  /// the Swift runtime's release path that runs a lock's `deinit`
  /// (`swift_release`, `_swift_release_dealloc`,
  /// `swift::RefCounts<...>::doDecrementSlow`, by its linkage name, and
  /// `swift_arrayDestroy`, which destroys an array's elements): a
  /// held lock freed by dropping the last reference to it starts at the
  /// line that dropped it; and with it the compiler's code that destroys
  /// what an object held (`compilerMadeRelease(_:)`): a lock freed with
  /// the object or value that held it starts at the line that dropped
  /// that (before 2026-12-06, at the object's `deinit`).
  /// Also the RCU layer's read-side entry and exit points
  /// (`rcuReadLock()`, `withRCURead {}`, ... and the `rcuEnter` and
  /// `rcuExit` they inline): an optimized build inlines them into their
  /// caller, whose line is where a section began (before 2026-12-06 a
  /// section's `at:` named `rcuEnter`), as the kernel's inlined
  /// `rcu_read_lock()` names its caller.
  /// Only a leading run is removed, so a runtime frame deeper down stays.
  public static let rawlockcheckMachinery = FrameFilter(
    functionPrefixes: [
      "$s7Lockdep", "$s14LockdepTesting", "$s9LockGraph", "$s10Symbolizer12StackCapture", "rlc_",
      "swift_release",
      "_swift_release_dealloc", "_ZN5swift9RefCounts", "swift_arrayDestroy",
      "$s3RCU8rcuEnter", "$s3RCU7rcuExit", "$s3RCU11rcuReadLockyyF", "$s3RCU13rcuReadLockBH",
      "$s3RCU16rcuReadLockSched", "$s3RCU13rcuReadUnlockyyF", "$s3RCU15rcuReadUnlockBH",
      "$s3RCU18rcuReadUnlockSched", "$s3RCU11withRCURead", "$s3RCU13withRCUReadBH",
      "$s3RCU16withRCUReadSched", "$s3RCU14ReaderRegistryC16unbalancedUnlock",
    ], dropsCompilerMadeReleases: true)

  /// Whether `frame` is the Swift standard library's (`$ss`, `$sS`): code
  /// of its own that the machinery inlines (`Unmanaged`, `Array`) neither
  /// makes an address the user's nor stops the machinery's leading run.
  static func isStandardLibrary(_ frame: Frame) -> Bool {
    guard let name = frame.linkageName else { return false }
    return name.hasPrefix("$ss") || name.hasPrefix("$sS")
  }

  /// Whether `address` ends the leading run `apply(_:)` removes: it has
  /// a frame of the user's, or none of the machinery. `apply` of a
  /// stack's first addresses, one of which this keeps, starts where
  /// `apply` of the whole stack starts.
  public func keeps(_ address: SymbolizedAddress) -> Bool {
    address.frames.contains(where: isUser) || !address.frames.contains(where: matches)
  }

  /// Whether `frame` is the user's: neither machinery nor the standard
  /// library's.
  func isUser(_ frame: Frame) -> Bool { !matches(frame) && !Self.isStandardLibrary(frame) }

  /// `addresses` without the leading machinery: the leading addresses of
  /// machinery (with standard-library code inlined into it, or not), then,
  /// in the first address with a user's frame, the frames inlined into it
  /// before that one. The frames of that address from its first user's
  /// frame are kept, the machinery they are inlined into included: in an
  /// optimized build a user's closure is inlined into the lock's
  /// `withLock`, and is where the problem was (before 2026-12-03 such an
  /// address was dropped whole, and the user's frames with it). The run
  /// stops at an address without machinery. A stack that is machinery all
  /// the way down is returned whole: an empty stack would hide where the
  /// problem was.
  public func apply(_ addresses: [SymbolizedAddress]) -> [SymbolizedAddress] {
    guard let firstKept = addresses.firstIndex(where: keeps) else { return addresses }
    var kept = Array(addresses[firstKept...])
    let frames = kept[0].frames
    if frames.contains(where: matches), let user = frames.firstIndex(where: isUser), user > 0 {
      kept[0].frames = Array(frames[user...])
    }
    return kept
  }
}
