/// Tokens a trace has declared, and a new one for a name already taken:
/// the name, a separator and the first number from 2 up that is free.
///
/// The number a name's search starts from is the one after the last it
/// gave, so a name given N times costs N lookups in all, not N²/2: a
/// program that makes a million lock classes of one name (a key per
/// object) or reuses thread ids for weeks (`pid_max` wraps) is recorded
/// at the speed of any other. A token written literally (`k#3` as a
/// name) is still skipped: each candidate is checked.
struct UniqueTokens {
  /// Every token given.
  private var taken: Set<String> = []
  /// Per name given more than once, the number its next search starts at.
  private var next: [String: Int] = [:]

  /// `base` when it is free, else `base`, `separator` and the first free
  /// number from where its last search ended; taken now.
  mutating func claim(_ base: String, separator: String) -> String {
    if taken.insert(base).inserted { return base }
    var n = next[base, default: 2]
    var token = base + separator + String(n)
    while taken.contains(token) {
      n += 1
      token = base + separator + String(n)
    }
    taken.insert(token)
    next[base] = n + 1
    return token
  }
}
