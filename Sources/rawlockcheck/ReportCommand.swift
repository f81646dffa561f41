import ArgumentParser
import LockGraph
import Trace

#if canImport(Glibc)
  import Glibc
#endif

/// `rawlockcheck report`: validates traces offline and prints the findings.
struct ReportCommand: ParsableCommand {
  static let configuration = CommandConfiguration(
    commandName: "report",
    abstract: "Validate traces and report what lockdep would.",
    discussion: """
      Each trace is validated on its own. Text output prints lockdep-style blocks and a \
      summary line per trace; JSON prints one object per trace (an array for several).
      """
  )

  @OptionGroup var options: CheckOptions

  @Option(help: "Output format.")
  var format: OutputFormat = .text

  @Argument(help: "Trace files (text encoding, spec/trace-format.md).")
  var traces: [String]

  func validate() throws {
    if traces.isEmpty { throw ValidationError("Missing expected argument '<traces> ...'") }
  }

  func run() throws {
    var anyFindings = false
    var anyErrors = false
    var objects: [JSONValue] = []
    for path in traces {
      let progress = ProgressBar(label: path)
      var validator = LockValidator(configuration: options.configuration)
      let symbols: TraceSymbols
      do {
        symbols = try TextTraceReader(path: path).read(into: &validator, progress: progress.update)
        progress.finish()
      } catch {
        progress.finish()
        writeStandardError("rawlockcheck: \(error)\n")
        anyErrors = true
        continue
      }
      if validator.findings.count > 0 { anyFindings = true }
      let report = TextReport(
        validator: validator, source: path,
        resolver: AddressFrameResolver(stacks: symbols.stacks))
      switch format {
      case .text: print(report.render(), terminator: "")
      case .json: objects.append(JSONReport(report: report, version: RawLockCheck.version).value())
      }
    }
    if format == .json && !objects.isEmpty {
      print((objects.count == 1 ? objects[0] : .array(objects)).render())
    }
    if anyErrors { throw ExitCode(2) }
    if anyFindings { throw ExitCode(1) }
  }
}
