/// The last path component of `path` (the whole of it when it has no `/`):
/// how a module, a file or a `--binary` is named by its file name.
public func baseName(_ path: String) -> String {
  guard let slash = path.lastIndex(of: "/") else { return path }
  return String(path[path.index(after: slash)...])
}
