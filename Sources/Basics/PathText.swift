#if canImport(Glibc)
  import Glibc
#endif

/// The last path component of `path` (the whole of it when it has no `/`):
/// how a module, a file or a `--binary` is named by its file name.
public func baseName(_ path: String) -> String {
  guard let slash = path.lastIndex(of: "/") else { return path }
  return String(path[path.index(after: slash)...])
}

/// Everything of `path` before its last `/` (`/` for a file at the root,
/// "" when it has no `/`): the directory a file is in.
public func directoryName(_ path: String) -> String {
  guard let slash = path.lastIndex(of: "/") else { return "" }
  return slash == path.startIndex ? "/" : String(path[..<slash])
}

/// `name` under `directory`: `name` itself when it is absolute or
/// `directory` is empty, one `/` between them.
public func joinedPath(_ directory: String, _ name: String) -> String {
  if name.hasPrefix("/") || directory.isEmpty { return name }
  return directory.hasSuffix("/") ? directory + name : directory + "/" + name
}

/// `path` made absolute against the working directory (`.` is the working
/// directory itself); unchanged when it is absolute already, or when the
/// working directory cannot be read.
public func absolutePath(_ path: String) -> String {
  if path.hasPrefix("/") { return path }
  guard let cwd = currentDirectory() else { return path }
  if path == "." || path.isEmpty { return cwd }
  return cwd == "/" ? "/" + path : cwd + "/" + path
}

/// Whether `path` names a directory (through symbolic links).
public func isDirectory(_ path: String) -> Bool {
  var info = stat()
  return stat(path, &info) == 0 && info.st_mode & S_IFMT == S_IFDIR
}

/// The working directory, when it can be read.
public func currentDirectory() -> String? {
  var buffer = [CChar](repeating: 0, count: 4096)
  guard getcwd(&buffer, buffer.count) != nil else { return nil }
  return String(decoding: buffer.prefix { $0 != 0 }.map { UInt8(bitPattern: $0) }, as: UTF8.self)
}

/// `path` made absolute, with `.`, `..` and repeated slashes taken out
/// lexically (symbolic links are not followed): `./`, `src/..` and
/// `/a//b/` name their directory one way (`/a/b`).
public func normalizedPath(_ path: String) -> String {
  var parts: [Substring] = []
  for part in absolutePath(path).split(separator: "/", omittingEmptySubsequences: true) {
    switch part {
    case ".": continue
    case "..": if !parts.isEmpty { parts.removeLast() }
    default: parts.append(part)
    }
  }
  return "/" + parts.joined(separator: "/")
}

/// `path` with every symbolic link resolved (`realpath`); nil when it does
/// not exist.
public func resolvedPath(_ path: String) -> String? {
  guard let resolved = realpath(path, nil) else { return nil }
  defer { free(resolved) }
  return String(cString: resolved)
}

/// The descriptor `path` names when it is one of this process's own
/// (`/dev/stdout`, `/dev/stderr`, `/dev/fd/N`, `/proc/self/fd/N`), else nil.
/// An output of that name is written through a duplicate of the
/// descriptor, where it is: at its offset, in its append mode, never
/// reopened (at offset 0), truncated or replaced (`>> log` is appended to).
public func ownDescriptor(named path: String) -> Int32? {
  switch path {
  case "/dev/stdout": return 1
  case "/dev/stderr": return 2
  default:
    for prefix in ["/dev/fd/", "/proc/self/fd/"] where path.hasPrefix(prefix) {
      let digits = path.dropFirst(prefix.count)
      guard !digits.isEmpty, digits.count <= 9, digits.allSatisfy(\.isASCII),
        digits.allSatisfy(\.isNumber)
      else { return nil }
      return Int32(digits)
    }
    return nil
  }
}
