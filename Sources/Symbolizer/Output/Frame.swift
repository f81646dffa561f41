/// One source-level frame of a code address.
///
/// A single machine address can stand for several frames when the compiler
/// inlined calls: the symbolizer returns them innermost (deepest inlined)
/// first, every one but the last with `isInlined == true`, and the last being
/// the real, out-of-line function that contains the address.
///
/// Invariants:
/// - `line == 0` means the compiler attributed the code to no source line
///   (Swift's `<compiler-generated>`); `file` may still be set.
/// - `function == nil` means no name is known. For a module whose file no
///   longer matches the trace (`isStale`), the name is always nil rather than
///   possibly wrong.
/// - `moduleOffset` is `address - bias`, the address as the ELF file itself
///   numbers it (what `llvm-symbolizer --obj=<module>` and `addr2line -e` take).
public struct Frame: Sendable, Hashable {
  /// The address that was symbolized, as given (not adjusted for return addresses).
  public var address: UInt64
  /// The function, if known: its linkage name and (demangled when first
  /// read) its readable name. Shared between every frame of that function.
  public var name: SymbolName?
  /// The source file, as recorded in the debug information (usually absolute).
  public var file: String?
  /// The 1-based source line; 0 when unknown or compiler-generated.
  public var line: Int
  /// The 1-based source column; 0 when unknown.
  public var column: Int
  /// True for every frame of an inline chain except the outermost one.
  public var isInlined: Bool
  /// The path of the ELF module that contains the address, if any.
  public var module: String?
  /// `address - bias` of the module (0 when no module is known).
  public var moduleOffset: UInt64
  /// True when the module's file on disk is not the one the address came from
  /// (build-id mismatch); the frame then carries no function, file or line.
  public var isStale: Bool
  /// True when `file` is not from DWARF but the `STT_FILE` symbol that
  /// precedes the function's in the symbol table, as `llvm-symbolizer`
  /// prints it (`crtstuff.c:0:0` for a library without DWARF, whose only
  /// file symbols are the C runtime's): a hint, not where the code is.
  public var fileIsFromSymbolTable = false

  /// A frame; what is not known keeps its default (nil, 0 or false).
  public init(
    address: UInt64, function: String? = nil, linkageName: String? = nil, file: String? = nil,
    line: Int = 0, column: Int = 0, isInlined: Bool = false, module: String? = nil,
    moduleOffset: UInt64 = 0, isStale: Bool = false
  ) {
    self.address = address
    switch (linkageName, function) {
    case (let linkage?, let readable?): name = SymbolName(linkage: linkage, readable: readable)
    case (let linkage?, nil): name = SymbolName(linkage: linkage)
    case (nil, let readable?): name = SymbolName(linkage: readable, readable: readable)
    case (nil, nil): name = nil
    }
    self.file = file
    self.line = line
    self.column = column
    self.isInlined = isInlined
    self.module = module
    self.moduleOffset = moduleOffset
    self.isStale = isStale
  }

  /// The demangled function name, if known.
  public var function: String? { name?.readable }

  /// The mangled (linkage) name the function name is demangled from, or the
  /// plain name when the function has no separate linkage name.
  public var linkageName: String? { name?.linkage }

  /// True when a function name or a source line is known; a frame that is
  /// not symbolized prints as `module+0xoffset`.
  public var isSymbolized: Bool { name != nil || (file != nil && line != 0) }

  /// The module's file name without directories (`libc.so.6`), if a module is known.
  public var moduleName: String? {
    guard let module else { return nil }
    return String(module.split(separator: "/", omittingEmptySubsequences: false).last ?? "")
  }
}

/// The frames of one address, innermost first, as `Symbolizer` returns them.
public struct SymbolizedAddress: Sendable, Hashable {
  /// The address as given.
  public var address: UInt64
  /// Never empty: an address that cannot be symbolized has one frame with
  /// only `address`, `module` and `moduleOffset` set.
  public var frames: [Frame]

  /// The answer for `address`: `frames`, innermost first.
  public init(address: UInt64, frames: [Frame]) {
    self.address = address
    self.frames = frames
  }
}
