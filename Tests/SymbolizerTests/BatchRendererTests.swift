import Basics
import XCTest

@testable import Symbolizer

/// The compact batch path (`Symbolizer.symbolize(_:into:)` and
/// `BatchRenderer`) prints exactly what the `Frame` path prints
/// (`Symbolizer.symbolize(_:)` and `FrameFormatting`), in text and JSON.
final class BatchRendererTests: XCTestCase {
  func testCFixtureBatchesPrintWhatFramesPrint() throws {
    let binary = try FixtureSupport.cProgram()
    try assertBatchesMatchFrames(binary: binary)
  }

  func testSwiftFixtureBatchesPrintWhatFramesPrint() throws {
    let binary = try FixtureSupport.swiftProgram()
    try assertBatchesMatchFrames(binary: binary)
  }

  /// Every 5th byte of every function, plus addresses no function covers,
  /// in batches of 97, against a separate symbolizer's `Frame`s.
  private func assertBatchesMatchFrames(binary: String) throws {
    let addresses = FixtureSupport.sampledAddresses(of: binary, every: 5, after: [0, 1])
    XCTAssertGreaterThan(addresses.count, 100)
    let reference = Symbolizer(executable: binary)
    for format in [BatchRenderer.Format.text, .json] {
      let expected = addresses.map { address in
        let answer = reference.symbolize(address)
        return format == .text
          ? FrameFormatting.text(answer, printAddress: true) : FrameFormatting.json(answer)
      }
      let batched = render(addresses, with: Symbolizer(executable: binary), format: format)
      XCTAssertEqual(batched.count, expected.count)
      for (index, (ours, theirs)) in zip(batched, expected).enumerated() where ours != theirs {
        XCTFail(
          "\(format) answer \(index) (0x\(String(addresses[index], radix: 16))): \(ours) != \(theirs)"
        )
        break
      }
    }
    // Names interned through the single-address API between batches (and
    // so delivered by a batch they do not appear in) keep numbers in step.
    let shared = Symbolizer(executable: binary)
    let text = render(addresses, with: shared, format: .text) { _ = shared.symbolize($0 &+ 2) }
    XCTAssertEqual(
      text, addresses.map { FrameFormatting.text(reference.symbolize($0), printAddress: true) })
  }

  /// A name or file holding a line break or an escape sequence (a damaged
  /// or hostile file's) is printed escaped in text, so that an answer stays
  /// its lines and nothing reaches the terminal as a control sequence, by
  /// both paths alike; JSON escapes it as JSON does.
  func testControlCharactersInNamesAreEscapedInText() throws {
    let frame = Frame(
      address: 0x1170, function: "ou\ner\u{1B}[2J", file: "/src/a\n.c", line: 5, column: 48)
    let answer = SymbolizedAddress(address: 0x1170, frames: [frame])
    let text = FrameFormatting.text(answer, printAddress: true)
    XCTAssertEqual(text, "0x1170: ou\\u{A}er\\u{1B}[2J at /src/a\\u{A}.c:5:48")
    XCTAssertFalse(text.contains("\n"))
    let json = FrameFormatting.json(answer)
    XCTAssertTrue(json.contains(#""function": "ou\ner\u001b[2J""#), json)
  }

  func testModulesMissingStaleAndAbsent() throws {
    let binary = try FixtureSupport.cProgram()
    let missing = ModuleRecord(
      start: 0x5555_0000_0000, end: 0x5555_0001_0000, fileOffset: 0,
      path: "/nonexistent/lib/libgone.so")
    let stale = ModuleRecord(
      start: 0x7000_0000_0000, end: 0x7000_0001_0000, fileOffset: 0, path: binary,
      buildID: "00112233445566778899aabbccddeeff00112233")
    let symbolizer = Symbolizer(modules: [missing, stale])
    XCTAssertEqual(symbolizer.modules.map(\.status), [.missing, .stale])
    let addresses: [UInt64] = [0x5555_0000_1234, 0x7000_0000_0042, 0x10]
    // Checked by hand: bias is start - offset (no file to read segments from
    // for the missing module; the stale one's file is not read either).
    XCTAssertEqual(
      render(addresses, with: symbolizer, format: .text),
      [
        "0x555500001234: libgone.so+0x1234", "0x700000000042: cfix+0x42 [stale binary]",
        "0x10: 0x10",
      ])
    XCTAssertEqual(
      render(addresses, with: symbolizer, format: .json),
      addresses.map { FrameFormatting.json(symbolizer.symbolize($0)) })
    XCTAssertEqual(
      render([0x10], with: symbolizer, format: .json),
      [
        #"{"address": "0x10", "frames": [{"function": null, "file": null, "line": 0, "column": 0, "inlined": false, "module": null, "offset": "0x0"}]}"#
      ])
  }

  /// The renderer's lines for `addresses`, symbolized in batches of 97, with
  /// `between` called after each batch is handed over.
  private func render(
    _ addresses: [UInt64], with symbolizer: Symbolizer, format: BatchRenderer.Format,
    between: (UInt64) -> Void = { _ in }
  ) -> [String] {
    var renderer = BatchRenderer(format: format)
    var batch = SymbolizedBatch()
    var out: [UInt8] = []
    for chunk in stride(from: 0, to: addresses.count, by: 97) {
      for address in addresses[chunk..<min(chunk + 97, addresses.count)] {
        symbolizer.symbolize(address, into: &batch)
      }
      let handed = batch
      batch.removeAnswers()
      between(addresses[chunk])
      renderer.append(handed, to: &out)
    }
    var lines = String(decoding: out, as: UTF8.self).split(
      separator: "\n", omittingEmptySubsequences: false
    )
    .map(String.init)
    XCTAssertEqual(lines.last, "", "every answer ends with a newline")
    lines.removeLast()
    // A text answer with inlined frames spans lines: regroup by address.
    var answers: [String] = []
    for line in lines {
      if line.hasPrefix(" (inlined by) ") {
        answers[answers.count - 1] += "\n" + line
      } else {
        answers.append(line)
      }
    }
    return answers
  }
}
