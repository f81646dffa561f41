/// A module of a traced process, as a trace's `module` line records it
/// (one executable mapping of `/proc/PID/maps`).
public struct ModuleRecord: Sendable, Hashable {
  /// First runtime address of the mapping.
  public var start: UInt64
  /// One past the last runtime address of the mapping.
  public var end: UInt64
  /// The file offset the mapping starts at.
  public var fileOffset: UInt64
  /// The ELF file as the traced process saw it.
  public var path: String
  /// The GNU build-id in hex, when the trace recorded it.
  public var buildID: String?

  /// A mapping of `path` from `start` to `end` (exclusive), at `fileOffset` in the file.
  public init(start: UInt64, end: UInt64, fileOffset: UInt64, path: String, buildID: String? = nil)
  {
    self.start = start
    self.end = end
    self.fileOffset = fileOffset
    self.path = path
    self.buildID = buildID
  }
}
