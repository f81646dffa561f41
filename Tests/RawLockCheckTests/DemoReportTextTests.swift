import Testing

@testable import rawlockcheck

/// The demo's JSON frames, read from its report's `stack backtrace:` lines:
/// the function, and the location in parentheses split into file and line.
@Suite struct DemoReportTextTests {
  @Test func aFrameSplitsItsLocation() throws {
    let full = try #require(
      DemoReportText.frame(
        " #0 specialized closure #1 in PageAllocator.withZoneLock<A>(_:) (/src/PageAllocator.swift:276:17)"
      ))
    #expect(full.function == "specialized closure #1 in PageAllocator.withZoneLock<A>(_:)")
    #expect(full.file == "/src/PageAllocator.swift" && full.line == 276 && !full.inlined)
    // A location without a line is the file alone, not part of the name.
    let generated = try #require(
      DemoReportText.frame(
        " #2 partial apply for closure #1 in f() (<compiler-generated>) [inlined]"))
    #expect(generated.function == "partial apply for closure #1 in f()")
    #expect(generated.file == "<compiler-generated>" && generated.line == nil && generated.inlined)
    let bare = try #require(DemoReportText.frame(" #3 merged static Checked.withSoftIRQ<A, B>(_:)"))
    #expect(bare.function == "merged static Checked.withSoftIRQ<A, B>(_:)" && bare.file == nil)
  }
}
