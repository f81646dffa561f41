import ArgumentParser
import Basics
import Report
import Symbolizer

#if canImport(Glibc)
  import Glibc
#endif

/// Where `report` and `graph` find the ELF files of a trace's modules when
/// the paths the trace recorded are not where they were (`spec/reports.md`:
/// `--binary <path>`, `--debug-dir`).
struct SymbolFileOptions: ParsableArguments {
  @Option(
    help: ArgumentHelp(
      "An ELF file to symbolize a module of the trace with: the module whose build-id it has, or, for a module recorded without one, the module of its file name (repeatable).",
      valueName: "path"))
  var binary: [String] = []

  @Option(
    help: "A directory to search for the trace's binaries and their debug files (repeatable).")
  var debugDir: [String] = []

  func validate() throws {
    for path in binary {
      if let problem = Symbolizer.elfFileProblem(path) {
        throw ValidationError("--binary \(QuotedText.fileName(path)): \(problem)")
      }
    }
    // A directory searched for nothing (a mistyped one) is said, as a
    // `--binary` that is no ELF file is.
    for path in debugDir where !isDirectory(path) {
      throw ValidationError("--debug-dir \(QuotedText.fileName(path)): not a directory")
    }
  }

  /// Says `moduleWarnings`, then `unusedBinaryWarnings(resolutions)`, on
  /// standard error, each of the trace named `trace`.
  /// The first `warningLines` are said, then how many more there were: a
  /// trace of a process that mapped a hundred thousand modules gone since
  /// would bury the report under them.
  func sayWarnings(_ moduleWarnings: [String], resolutions: [ModuleResolution], of trace: String) {
    let warnings = moduleWarnings + unusedBinaryWarnings(resolutions)
    for warning in warnings.prefix(Self.warningLines) {
      writeStandardError("rawlockcheck: \(QuotedText.fileName(trace)): \(warning)\n")
    }
    if warnings.count > Self.warningLines {
      writeStandardError(
        "rawlockcheck: \(QuotedText.fileName(trace)): \(warnings.count - Self.warningLines) more module warnings "
          + "not shown\n")
    }
  }

  /// Says, for `report` (of trace `trace`), the modules its resolver
  /// looked up whose split DWARF files were not found and that `pool` has
  /// not said yet: after the report is written (a JSON report of one
  /// trace is made as it is printed, at the run's end), once its
  /// addresses were symbolized. The first `warningLines` are said, then
  /// how many more there were.
  func sayMissingSplitUnits(_ pool: SymbolizerPool, _ report: TextReport, of trace: String) {
    let found = pool.newModulesWithMissingSplitUnits(of: report.resolver)
    for (module, dwoFiles) in found.prefix(Self.warningLines) {
      writeStandardError(
        "rawlockcheck: \(QuotedText.fileName(trace)): module "
          + "\(Self.missingSplitUnitsWarning(module, dwoFiles))\n")
    }
    if found.count > Self.warningLines {
      writeStandardError(
        "rawlockcheck: \(QuotedText.fileName(trace)): \(found.count - Self.warningLines) more "
          + "modules with split DWARF files not found\n")
    }
  }

  /// How many module warnings of one trace are said in full.
  static let warningLines = 20

  /// What is said of a module whose split DWARF units' `.dwo` files
  /// (`dwoFiles`) were not found: `symbolize`'s, and `report`'s
  /// after `module`.
  /// Files that are there, but in which libdw 0.188 found no split unit
  /// (gcc 12's type units, `-fdebug-types-section`, put each in a section
  /// of its own), are said to be unreadable, not missing.
  static func missingSplitUnitsWarning(_ module: String, _ dwoFiles: [String]) -> String {
    let named = dwoFiles.prefix(3).map(QuotedText.printable).joined(separator: ", ")
    let more = dwoFiles.count > 3 ? " and \(dwoFiles.count - 3) more" : ""
    let present = dwoFiles.allSatisfy { access($0, F_OK) == 0 }
    // A FIFO or a device where one is looked for is passed over, not
    // opened (`DwarfIndex.splitFileBlocking`).
    let irregular = dwoFiles.contains(where: RegularFile.isOtherThanRegular)
    let what =
      irregular
      ? "not readable (\(named)\(more): not a regular file, passed over)"
      : present
        ? "not readable (\(named)\(more): libdw found no split unit in \(dwoFiles.count == 1 ? "it" : "them"))"
        : "not found (\(named)\(more); a .dwp package is not read)"
    return "\(QuotedText.printable(module)): split DWARF file\(dwoFiles.count == 1 ? "" : "s") "
      + "\(what): functions of "
      + "\(dwoFiles.count == 1 ? "its unit" : "those units") are named from the symbol table, "
      + "without inlined frames"
  }

  /// The warnings for `--binary` files that no module of a trace with
  /// `modules` took, which are most likely a wrong file or build: one of
  /// a module's file name (another build-id than the trace's, or a name
  /// two modules share), or of no module at all. With several traces a
  /// file may be another trace's: the warning says "this trace".
  func unusedBinaryWarnings(_ resolutions: [ModuleResolution]) -> [String] {
    if resolutions.isEmpty {
      return binary.map {
        "--binary \(QuotedText.fileName($0)) is no module of this trace (it records no module)"
      }
    }
    let used = Set(resolutions.compactMap(\.resolvedPath))
    return binary.filter { !used.contains($0) }.map { path in
      if let module = resolutions.first(where: { baseName($0.path) == baseName(path) }) {
        return
          "--binary \(QuotedText.fileName(path)) was not used for module \(QuotedText.fileName(module.path)) of this trace: "
          + "another build-id than the trace's, or a file name two of its modules share"
      }
      return
        "--binary \(QuotedText.fileName(path)) is no module of this trace (neither its build-id nor its file name match one)"
    }
  }
}
