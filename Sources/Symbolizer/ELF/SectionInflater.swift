import CElfutils

/// Inflates the payload of one `SHF_COMPRESSED` ELF section compressed with
/// `ELFCOMPRESS_ZLIB` (a zlib stream: 2-byte header, deflate data, Adler-32).
///
/// The deflate data is inflated raw, so zlib does not compute the Adler-32
/// checksum (about a tenth of inflating time). What is still checked: the
/// zlib header; that the deflate data decodes, ends 4 bytes (the checksum)
/// before the section does, and inflates to exactly the size the compression
/// header promised. Damage that keeps all of that true goes unnoticed, as in
/// an uncompressed section; every DWARF read is bounded, so it can mislabel,
/// not crash.
enum SectionInflater {
  /// Inflates `source` (the bytes after the compression header) into
  /// exactly `destination.count` bytes. Returns false when the stream is not
  /// zlib, is damaged, inflates to any other size, or is 4 GiB or more (the
  /// caller then leaves the file to libdw).
  static func inflate(
    _ source: UnsafeRawBufferPointer, into destination: UnsafeMutableRawBufferPointer
  )
    -> Bool
  {
    guard source.count >= 2 else { return false }
    let method = source[0]
    let flags = source[1]
    // RFC 1950: method 8 (deflate), window of at most 32 KiB, no preset
    // dictionary, and the header checksum.
    guard method & 0x0f == 8, method >> 4 <= 7, flags & 0x20 == 0,
      (UInt16(method) << 8 | UInt16(flags)) % 31 == 0
    else { return false }
    // One call inflates everything: zlib counts in 32-bit units.
    guard destination.count > 0, destination.count < Int(UInt32.max), source.count < Int(UInt32.max)
    else { return false }
    var stream = z_stream()
    guard
      inflateInit2_(&stream, -15, zlibVersion(), Int32(MemoryLayout<z_stream>.size)) == Z_OK
    else { return false }
    defer { inflateEnd(&stream) }
    stream.next_in = UnsafeMutablePointer(
      mutating: source.baseAddress!.advanced(by: 2).assumingMemoryBound(to: UInt8.self))
    stream.avail_in = UInt32(source.count - 2)
    stream.next_out = destination.baseAddress!.assumingMemoryBound(to: UInt8.self)
    stream.avail_out = UInt32(destination.count)
    // What follows the deflate data is the 4-byte checksum, and nothing else.
    return CElfutils.inflate(&stream, Z_FINISH) == Z_STREAM_END && stream.avail_out == 0
      && stream.avail_in == 4
  }
}
