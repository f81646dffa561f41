import Basics

/// Prints the batches of one `SymbolizedBatch` sequence, in order, as text
/// (`llvm-symbolizer --pretty-print` with `--print-address`) or as one JSON
/// object per address: exactly what `FrameFormatting` prints for the same
/// answers as `Frame`s, one answer per line.
///
/// Each name is demangled, and each name, file and module is rendered, once,
/// when its batch arrives; answers are then assembled from those bytes. The
/// renderer owns everything it reads, so it can run on another thread than
/// the symbolizer.
///
/// Invariant: `names`, `files` and `modules` hold one entry per table entry
/// the batches so far delivered; each span lies inside `bytes`.
public struct BatchRenderer: Sendable {
  /// The output format.
  public enum Format: Sendable {
    /// `0x…: function at file:line:column`, with ` (inlined by) ` lines.
    case text
    /// `{"address": "0x…", "frames": [{"function": …}]}`.
    case json
  }

  /// Where a rendered string lies in `bytes`.
  private struct Span: Sendable {
    var start: Int
    var count: Int
  }

  private struct Module: Sendable {
    var span: Span
    var bias: UInt64
    var isStale: Bool
  }

  private let format: Format
  private var bytes: [UInt8] = []
  private var names: [Span] = []
  private var files: [Span] = []
  private var modules: [Module] = []

  /// A renderer writing `format`.
  public init(format: Format) {
    self.format = format
  }

  /// Appends every answer of `batch` to `out`, each followed by a newline.
  /// `batch` must be the next batch of the sequence this renderer prints.
  public mutating func append(_ batch: SymbolizedBatch, to out: inout [UInt8]) {
    absorb(batch)
    appendAnswers(0..<batch.count, of: batch, to: &out)
  }

  /// Renders the names, files and modules `batch` delivers, so that its
  /// answers can be printed with `appendAnswers`, in any order and in parts
  /// (to interleave the answers of several lanes). `batch` must be the next
  /// batch of the sequence this renderer prints.
  public mutating func absorb(_ batch: SymbolizedBatch) {
    precondition(
      batch.firstNewName == names.count && batch.firstNewFile == files.count
        && batch.firstNewModule == modules.count,
      "BatchRenderer: batches of a sequence must arrive in order")
    let json = format == .json
    for name in batch.newNames { names.append(store(name.readable, json: json)) }
    for file in batch.newFiles { files.append(store(file, json: json)) }
    for module in batch.newModules {
      modules.append(
        Module(
          span: store(json ? module.path : baseName(module.path), json: json), bias: module.bias,
          isStale: module.isStale))
    }
  }

  /// Appends the answers `answers` of `batch`, which this renderer has
  /// absorbed, to `out`, each followed by a newline.
  public func appendAnswers(
    _ answers: Range<Int>, of batch: SymbolizedBatch, to out: inout [UInt8]
  ) {
    precondition(
      batch.deliveredNames <= names.count && batch.deliveredFiles <= files.count
        && batch.deliveredModules <= modules.count,
      "BatchRenderer: a batch must be absorbed before its answers are printed")
    precondition(answers.lowerBound >= 0 && answers.upperBound <= batch.count)
    // Everything the loop reads is borrowed as a buffer first: a closure
    // capturing `batch` or `self` copied (retained and released) their
    // arrays once per answer.
    let names = self.names
    let files = self.files
    let modules = self.modules
    let format = self.format
    bytes.withUnsafeBufferPointer { arena in
      batch.frames.withUnsafeBufferPointer { records in
        func text(_ span: Span) -> UnsafeBufferPointer<UInt8> {
          UnsafeBufferPointer(rebasing: arena[span.start..<span.start + span.count])
        }
        for answer in answers {
          let address = batch.addresses[answer]
          let slot = Int(batch.moduleSlots[answer])
          let module = slot >= 0 ? modules[slot] : nil
          let frames = batch.frameRange(of: answer)
          let parts = { (index: Int) -> FrameText.Parts<UnsafeBufferPointer<UInt8>> in
            let record = records[frames.lowerBound + index]
            return FrameText.Parts(
              name: record.name >= 0 ? text(names[Int(record.name)]) : nil,
              file: record.file >= 0 ? text(files[Int(record.file)]) : nil,
              module: module.map { text($0.span) }, line: Int(record.line),
              column: Int(record.column), isInlined: record.isInlined,
              isStale: module?.isStale ?? false,
              moduleOffset: module.map { address &- $0.bias } ?? 0, address: address)
          }
          switch format {
          case .text:
            FrameText.appendText(
              address: address, printAddress: true, frameCount: frames.count, parts: parts,
              to: &out)
          case .json:
            FrameText.appendJSON(
              address: address, frameCount: frames.count, parts: parts, to: &out)
          }
          out.append(UInt8(ascii: "\n"))
        }
      }
    }
  }

  /// Stores `text` (JSON-escaped for JSON; for text, with what a terminal
  /// does not show as itself escaped, `QuotedText.printable`, so that a
  /// name with a line break from a damaged file keeps its answer one
  /// line) in `bytes`.
  private mutating func store(_ text: String, json: Bool) -> Span {
    let start = bytes.count
    if json {
      JSONText.appendEscaped(text, to: &bytes)
    } else {
      bytes += QuotedText.printable(text).utf8
    }
    return Span(start: start, count: bytes.count - start)
  }
}
