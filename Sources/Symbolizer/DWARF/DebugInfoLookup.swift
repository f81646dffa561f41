import Basics
import CElfutils
import Glibc

/// The libdwfl callbacks: separate debug files are found only on the local
/// disk, by build-id under each entry of the debuginfo path
/// (`<root>/.build-id/xx/yyyy.debug`), then by `.gnu_debuglink`. Never
/// through debuginfod: elfutils would download when `DEBUGINFOD_URLS` is set,
/// so the standard search (which includes the debuginfod client) is used only
/// when that variable is unset or empty.
enum DebugInfoLookup {
  /// Allocates callbacks whose debuginfo path is the default
  /// (`:.debug:/usr/lib/debug`) followed by `debugDirectories`. The memory
  /// must outlive the `Dwfl`; `release` frees it.
  static func makeCallbacks(debugDirectories: [String]) -> UnsafeMutablePointer<Dwfl_Callbacks> {
    let callbacks = UnsafeMutablePointer<Dwfl_Callbacks>.allocate(capacity: 1)
    let pathSlot = UnsafeMutablePointer<UnsafeMutablePointer<CChar>?>.allocate(capacity: 1)
    // libdwfl's build-id search skips a relative entry: `--debug-dir dbg`
    // is made absolute against the working directory.
    let path = ([":.debug:/usr/lib/debug"] + debugDirectories.map(absolutePath)).joined(
      separator: ":")
    pathSlot.pointee = strdup(path)
    callbacks.initialize(
      to: Dwfl_Callbacks(
        find_elf: { _, _, _, _, _, _ in -1 },
        find_debuginfo: { module, userdata, name, base, file, debuglink, crc, out in
          let fd = dwfl_build_id_find_debuginfo(
            module, userdata, name, base, file, debuglink, crc, out)
          if fd >= 0 { return fd }
          if let urls = getenv("DEBUGINFOD_URLS"), urls.pointee != 0 { return -1 }
          return dwfl_standard_find_debuginfo(
            module, userdata, name, base, file, debuglink, crc, out)
        },
        section_address: dwfl_offline_section_address,
        debuginfo_path: pathSlot))
    return callbacks
  }

  static func release(_ callbacks: UnsafeMutablePointer<Dwfl_Callbacks>) {
    if let slot = callbacks.pointee.debuginfo_path {
      free(slot.pointee)
      slot.deallocate()
    }
    callbacks.deallocate()
  }
}
