/// Numbers as the project writes and reads them: `0x` and lowercase hex
/// digits for addresses, plain decimal digits otherwise; reading takes
/// decimal or `0x`/`0X`-hexadecimal.
public enum NumberText {
  /// Appends `0x` and the lowercase hex digits of `value` (`0x0` for zero).
  @inlinable
  public static func appendHex(_ value: UInt64, to out: inout [UInt8]) {
    out.append(0x30)
    out.append(0x78)
    if value == 0 {
      out.append(0x30)
      return
    }
    var shift = (63 - value.leadingZeroBitCount) / 4 * 4
    while shift >= 0 {
      let digit = UInt8((value >> UInt64(shift)) & 0xF)
      out.append(digit < 10 ? 0x30 + digit : 0x61 + digit - 10)
      shift -= 4
    }
  }

  /// `0x` and the lowercase hex digits of `value`.
  @inlinable
  public static func hex(_ value: UInt64) -> String {
    var out: [UInt8] = []
    appendHex(value, to: &out)
    return String(decoding: out, as: UTF8.self)
  }

  /// `value` as the kernel's `%px` prints a pointer on a 64-bit machine:
  /// lowercase hex digits, zero-padded to 16, without `0x`.
  public static func pointer(_ value: UInt64) -> String {
    let digits = String(value, radix: 16)
    return String(repeating: "0", count: max(0, 16 - digits.count)) + digits
  }

  /// Appends the decimal digits of `value`.
  @inlinable
  public static func appendDecimal(_ value: UInt64, to out: inout [UInt8]) {
    var n = value
    var count = 0
    repeat {
      count += 1
      n /= 10
    } while n > 0
    var i = out.count + count - 1
    out.append(contentsOf: repeatElement(0x30, count: count))
    n = value
    repeat {
      out[i] = 0x30 + UInt8(n % 10)
      n /= 10
      i -= 1
    } while n > 0
  }

  /// Appends the decimal digits of `value`, after a minus sign when negative.
  @inlinable
  public static func appendDecimal(_ value: Int, to out: inout [UInt8]) {
    if value < 0 { out.append(UInt8(ascii: "-")) }
    appendDecimal(UInt64(value.magnitude), to: &out)
  }

  /// A decimal number, or a hexadecimal one after `0x` or `0X`; nil for
  /// anything else (signs, spaces, an empty text, a bare `0x`) or for a
  /// value that does not fit in 64 bits.
  @inlinable
  public static func parse(_ b: UnsafeRawBufferPointer) -> UInt64? {
    guard let p = b.baseAddress, b.count > 0 else { return nil }
    let n = b.count
    var value: UInt64 = 0
    if n > 2 && p.load(as: UInt8.self) == 0x30
      && p.load(fromByteOffset: 1, as: UInt8.self) | 0x20 == 0x78
    {
      var i = 2
      while i < n {
        let c = p.load(fromByteOffset: i, as: UInt8.self)
        // 0-9, then a-f and A-F (folded to lowercase by the 0x20 bit).
        var digit = UInt64(c &- 0x30)
        if digit > 9 {
          digit = UInt64((c | 0x20) &- 0x61)
          guard digit < 6 else { return nil }
          digit &+= 10
        }
        if value >> 60 != 0 { return nil }
        value = value << 4 | digit
        i &+= 1
      }
      return value
    }
    var i = 0
    while i < n {
      let digit = UInt64(p.load(fromByteOffset: i, as: UInt8.self) &- 0x30)
      guard digit <= 9 else { return nil }
      let (m, o1) = value.multipliedReportingOverflow(by: 10)
      let (s, o2) = m.addingReportingOverflow(digit)
      if o1 || o2 { return nil }
      value = s
      i &+= 1
    }
    return value
  }

  /// `parse(_:)` of any bytes (copied first when they are not contiguous).
  @inlinable
  public static func parse(_ bytes: some Collection<UInt8>) -> UInt64? {
    if let value = bytes.withContiguousStorageIfAvailable({ parse(UnsafeRawBufferPointer($0)) }) {
      return value
    }
    return Array(bytes).withUnsafeBytes { parse($0) }
  }

  /// The bytes a string of hexadecimal digit pairs spells (`"93ac61"`, a
  /// build-id), or nil when it is empty, of odd length, or holds anything
  /// but ASCII hexadecimal digits.
  public static func bytes(fromHex text: String) -> [UInt8]? {
    let digits = Array(text.utf8)
    guard digits.count % 2 == 0, !digits.isEmpty else { return nil }
    func value(_ c: UInt8) -> UInt8? {
      switch c {
      case UInt8(ascii: "0")...UInt8(ascii: "9"): return c - UInt8(ascii: "0")
      case UInt8(ascii: "a")...UInt8(ascii: "f"): return c - UInt8(ascii: "a") + 10
      case UInt8(ascii: "A")...UInt8(ascii: "F"): return c - UInt8(ascii: "A") + 10
      default: return nil
      }
    }
    var bytes: [UInt8] = []
    var index = 0
    while index < digits.count {
      guard let high = value(digits[index]), let low = value(digits[index + 1]) else { return nil }
      bytes.append(high << 4 | low)
      index += 2
    }
    return bytes
  }
}
