import Report
import Symbolizer
import Testing

/// Swift's `<compiler-generated>` marker reads as itself in a report, with
/// no line or column, whatever directory and line DWARF gave it: a frame
/// whose line table said `/<compiler-generated>:37:9` printed so, beside
/// others printed `(<compiler-generated>)`, and its JSON had a column but
/// no file or line.
@Suite struct CompilerGeneratedFrameTests {
  @Test(arguments: [(0, 0), (37, 9)])
  func theMarkerReadsAsItselfWithoutALine(line: Int, column: Int) {
    let frame = Frame(
      address: 0x1000, function: "closure #1 in f()", file: "/<compiler-generated>", line: line,
      column: column, module: "app", moduleOffset: 0x1000)
    #expect(frame.reportText == "closure #1 in f() (<compiler-generated>)")
    #expect(frame.sourceFile == nil)
  }

  /// A real file keeps its line (text prints no column).
  @Test func aSourceFileKeepsItsLine() {
    let frame = Frame(
      address: 0x1000, function: "f()", file: "/src/a.swift", line: 37, column: 9,
      module: "app", moduleOffset: 0x1000)
    #expect(frame.reportText == "f() (/src/a.swift:37)")
    #expect(frame.backtraceText == "f() /src/a.swift:37")
  }
}
