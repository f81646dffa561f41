import Basics
import Glibc
import Synchronization

/// What the lanes of one symbolizer share (see `Symbolizer.lane()`): the
/// DWARF images any of them inflated, and one `SymbolName` per distinct
/// linkage name, so that a name met by several lanes is demangled once.
///
/// Each lane has its own `Dwfl` and indexes (libdw handles are not shared
/// between threads); what is here is immutable once stored, or, for a
/// `SymbolName`, publishes its demangled form atomically.
///
/// Invariants: an image is found only for the file it was inflated from,
/// by path and identity (device, inode, size, modification time), so a file
/// replaced in between is read anew; both tables only grow.
final class LaneShare: Sendable {
  /// A file as `stat` identifies it.
  private struct FileKey: Hashable {
    var path: String
    var device: UInt64
    var inode: UInt64
    var size: Int64
    var modified: Int
    var modifiedNanoseconds: Int

    init?(path: String) {
      var info = stat()
      guard stat(path, &info) == 0 else { return nil }
      self.path = path
      device = UInt64(info.st_dev)
      inode = UInt64(info.st_ino)
      size = Int64(info.st_size)
      modified = info.st_mtim.tv_sec
      modifiedNanoseconds = info.st_mtim.tv_nsec
    }
  }

  private let images = PThreadMutex<[FileKey: DwarfImage.Share]>([:])
  private let names = PThreadMutex([NameText: SymbolName](minimumCapacity: 1024))

  init() {}

  /// A handle over the image a lane inflated from the file at `path`, if
  /// one did and the file is unchanged.
  func image(of path: String) -> DwarfImage? {
    guard let key = FileKey(path: path), let share = images.withLock({ $0[key] }) else {
      return nil
    }
    return DwarfImage.open(sharing: share)
  }

  /// Offers `image`, inflated from the file at `path`, to the other lanes.
  func keep(_ image: DwarfImage, of path: String) {
    guard let key = FileKey(path: path) else { return }
    let share = image.share
    images.withLock { images in
      if images[key] == nil { images[key] = share }
    }
  }

  /// The one `SymbolName` of `linkage` among the lanes.
  func name(_ linkage: NameText) -> SymbolName {
    names.withLock { names in
      func intern(_ entry: inout SymbolName?) -> SymbolName {
        if let known = entry { return known }
        let name = SymbolName(linkage: linkage.text)
        entry = name
        return name
      }
      return intern(&names[linkage])
    }
  }
}
