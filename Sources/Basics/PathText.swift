#if canImport(Glibc)
  import Glibc
#endif

/// The last path component of `path` (the whole of it when it has no `/`):
/// how a module, a file or a `--binary` is named by its file name.
public func baseName(_ path: String) -> String {
  guard let slash = path.lastIndex(of: "/") else { return path }
  return String(path[path.index(after: slash)...])
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
