import Foundation
import Testing

/// `docs/spec/` holds copies of the project's contracts, which live
/// outside this repository (`../shared/spec/`, beside the working tree),
/// so that a clone has them. Where the originals are at hand, the copies
/// must be the same bytes: a contract changed there is copied here.
@Suite struct SpecCopyTests {
  static let originals = FixturePaths.root.deletingLastPathComponent()
    .appendingPathComponent("shared/spec")

  @Test(
    .enabled(if: FileManager.default.fileExists(atPath: originals.path)),
    arguments: ["trace-format.md", "reports.md"])
  func theCopyIsTheContract(name: String) throws {
    let original = try Data(contentsOf: Self.originals.appendingPathComponent(name))
    let copy = try Data(
      contentsOf: FixturePaths.root.appendingPathComponent("docs/spec").appendingPathComponent(name)
    )
    #expect(
      copy == original, "docs/spec/\(name) differs from ../shared/spec/\(name): copy it again")
  }

  /// The copies exist in every clone, whether or not the originals do.
  @Test(arguments: ["trace-format.md", "reports.md"])
  func theCopyIsInTheRepository(name: String) {
    let copy = FixturePaths.root.appendingPathComponent("docs/spec").appendingPathComponent(name)
    #expect(FileManager.default.fileExists(atPath: copy.path))
  }
}
