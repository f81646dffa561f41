import Basics
import Testing

@testable import Trace

/// `module` lines that replace one another (a library unloaded and another
/// mapped where it was): each stack is of the lines declared before it,
/// the same addresses under other lines are another stack, and a replaced
/// line's addresses are looked up at a range of its own.
@Suite struct ModuleViewsTests {
  static let a = ModuleRecord(start: 0x7000, end: 0x8000, fileOffset: 0x1000, path: "/liba.so")
  static let b = ModuleRecord(start: 0x7000, end: 0x8000, fileOffset: 0x1000, path: "/libb.so")
  static let app = ModuleRecord(start: 0x1000, end: 0x2000, fileOffset: 0, path: "/app")

  @Test func aStackIsOfTheLinesDeclaredBeforeIt() throws {
    var symbols = TraceSymbols()
    symbols.addModule(Self.app)
    symbols.addModule(Self.a)
    let inA = symbols.internStack([0x1100, 0x7100])
    #expect(!symbols.hasReplacedModules)
    // The same lines again (a recorder writes every mapping when one
    // changes) say nothing new.
    let again = symbols.addModule(Self.app)
    #expect(!again)
    let replacing = symbols.addModule(Self.b)
    #expect(replacing)
    #expect(symbols.hasReplacedModules)
    let inB = symbols.internStack([0x1100, 0x7100])
    #expect(inB != inA)
    // A stack wholly outside the replaced range is the one it was.
    let appOnly = symbols.internStack([0x1100])
    let appAgain = symbols.internStack([0x1100])
    #expect(appAgain == appOnly)
    let inBAgain = symbols.internStack([0x1100, 0x7100])
    #expect(inBAgain == inB)
    // liba mapped there again: its stacks are liba's first stack.
    let back = symbols.addModule(Self.a)
    #expect(back)
    let inAAgain = symbols.internStack([0x1100, 0x7100])
    #expect(inAAgain == inA)
    #expect(symbols.modules == [Self.app, Self.a, Self.b, Self.a])

    // libb's stack is looked up at libb's relocated range, liba's where
    // liba is (it is mapped there again); the app's frame stays.
    let moved = symbols.symbolizerModules
    #expect(moved.count == 3)
    let relocatedB = try #require(moved.first { $0.path == "/libb.so" })
    #expect(relocatedB.start >= 1 << 62)
    #expect(relocatedB.end - relocatedB.start == 0x1000)
    #expect(relocatedB.start & 0xFFF == 0)
    #expect(moved.contains(Self.a) && moved.contains(Self.app))
    #expect(symbols.lookupAddresses(of: Int(inA)) == [0x1100, 0x7100])
    let lookedUp = symbols.lookupAddresses(of: Int(inB))
    #expect(lookedUp[0] == 0x1100)
    #expect(lookedUp[1] == relocatedB.start + 0x100)
  }

  /// A line overlapping part of another (a library of another size mapped
  /// over part of the old one's range) replaces it; one beside it does not.
  @Test func anOverlapReplacesAndANeighbourDoesNot() {
    var symbols = TraceSymbols()
    symbols.addModule(Self.a)
    symbols.addModule(
      ModuleRecord(start: 0x8000, end: 0x9000, fileOffset: 0, path: "/libnext.so"))
    #expect(!symbols.hasReplacedModules)
    symbols.addModule(
      ModuleRecord(start: 0x7800, end: 0x8800, fileOffset: 0, path: "/libwide.so"))
    #expect(symbols.hasReplacedModules)
    #expect(symbols.symbolizerModules.filter { $0.start < 1 << 62 }.map(\.path) == ["/libwide.so"])
  }

  /// Past `maxTrackedLines` lines replacement is no longer followed (a
  /// hostile trace; keeping the lines in force sorted cost a move of the
  /// array per line): a later overlapping line is kept as declared.
  @Test func replacementIsNotFollowedPastTheLineBudget() {
    var symbols = TraceSymbols()
    for i in 0..<UInt64(ModuleViews.maxTrackedLines) {
      symbols.addModule(
        ModuleRecord(
          start: 0x10_0000 + i * 0x2000, end: 0x10_1000 + i * 0x2000, fileOffset: 0,
          path: "/lib\(i).so"))
    }
    symbols.addModule(
      ModuleRecord(start: 0x10_0000, end: 0x10_1000, fileOffset: 0, path: "/other.so"))
    #expect(!symbols.hasReplacedModules)
    #expect(symbols.modules.count == ModuleViews.maxTrackedLines + 1)
    let again = symbols.addModule(
      ModuleRecord(start: 0x10_0000, end: 0x10_1000, fileOffset: 0, path: "/other.so"))
    #expect(!again)
  }

  /// Written out (`convert`), each stack follows the lines declared
  /// before it, so that it reads back as the same stack of the same lines.
  @Test func aConvertedTraceKeepsEachStacksLines() throws {
    var symbols = TraceSymbols()
    symbols.addModule(Self.a)
    _ = symbols.internStack([0x7100])
    symbols.addModule(Self.b)
    _ = symbols.internStack([0x7100])
    var rewriter = try TextTraceRewriter(symbols: symbols)
    let text = String(decoding: rewriter.writer.take(), as: UTF8.self)
    let lines = text.split(separator: "\n").filter {
      $0.hasPrefix("module") || $0.hasPrefix("stack")
    }
    #expect(lines.map { $0.prefix(6) } == ["module", "stack ", "module", "stack "], "\(text)")
    #expect(lines[0].contains("/liba.so") && lines[2].contains("/libb.so"), "\(text)")
  }
}
