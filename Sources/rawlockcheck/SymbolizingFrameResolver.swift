import LockGraph
import Symbolizer

// This file imports Symbolizer but not Trace: both name a `ModuleRecord`.

/// Frames of a trace's stacks, symbolized from DWARF through the trace's
/// `module` lines.
struct SymbolizingFrameResolver: FrameResolving {
  let symbolizer: Symbolizer
  let stacks: [[UInt64]]
  let filter: FrameFilter

  /// - Parameter modules: start, end, file offset, path, build-id.
  init(
    modules: [(start: UInt64, end: UInt64, offset: UInt64, path: String, buildID: String?)],
    stacks: [[UInt64]], debugDirectories: [String], filter choice: FrameFilterChoice
  ) {
    let records = modules.map {
      ModuleRecord(
        start: $0.start, end: $0.end, fileOffset: $0.offset, path: $0.path, buildID: $0.buildID)
    }
    self.symbolizer = Symbolizer(modules: records, debugDirectories: debugDirectories)
    self.stacks = stacks
    var filter = choice.keepOwnFrames ? FrameFilter() : FrameFilter.rawlockcheckMachinery
    filter.functionPrefixes += choice.hidden
    self.filter = filter
  }

  /// Modules whose file was not found or does not match the trace, as
  /// warnings for the user.
  var moduleWarnings: [String] {
    symbolizer.modules.compactMap { resolution in
      switch resolution.status {
      case .ok: nil
      case .missing: "module \(resolution.path) not found: its frames print as addresses"
      case .stale:
        "module \(resolution.path) has another build-id than the trace: its frames are marked [stale binary]"
      }
    }
  }

  func frames(for origin: Origin) -> [ReportFrame] {
    let addresses: [UInt64]
    if !origin.stack.isNone, Int(origin.stack.raw) < stacks.count {
      addresses = stacks[Int(origin.stack.raw)]
    } else if origin.ip != 0 {
      addresses = [origin.ip]
    } else {
      return []
    }
    return filter.apply(symbolizer.symbolize(stack: addresses)).flatMap(\.frames)
      .map(Self.reportFrame)
  }

  static func reportFrame(_ f: Frame) -> ReportFrame {
    ReportFrame(
      address: f.address, function: f.isStale ? nil : f.function, file: f.isStale ? nil : f.file,
      line: f.line, column: f.column, isInlined: f.isInlined, module: f.moduleName,
      moduleOffset: f.moduleOffset, isStale: f.isStale)
  }
}

/// Which leading frames `report` leaves out of stacks: rawlockcheck's own
/// (unless `--all-frames`) and those named by `--hide-frames`.
struct FrameFilterChoice {
  var hidden: [String]
  var keepOwnFrames: Bool
}
