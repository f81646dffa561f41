import LockGraph

/// A dependency path's links as the JSON and SARIF reports give them: each
/// class with the stack where it was taken, holding the class before it.
///
/// A forward path's link is that already: the class a dependency leads
/// into, and where it was first recorded. A backwards search's link holds
/// the class it reached (the dependency's first lock) and the dependency's
/// stack, which is where the lock after it, towards the search's root, was
/// taken: lockdep's `lock_list` entry of a backwards search is so.
/// (lockdep's text prints an irq-safe to irq-unsafe dependency's safe side
/// with `print_shortest_lock_dependencies_backwards()`, each stack under
/// the class after it, and a backwards inversion with
/// `print_shortest_lock_dependencies()`, each under its own entry's class;
/// the text report does both as lockdep does.) Given as they are, the
/// JSON and SARIF reports paired a class with another lock's acquisition
/// (a SARIF step said "dependency into" the wrong lock).
///
/// Each function pairs every stack with the class taken there: the
/// classes (with their usage) move one place towards the root, and the
/// root takes the last stack. The far end (the irq-safe class, or the
/// inversion's other class, which the finding names apart) then has no
/// link, as the first lock of a path has no dependency into it.
enum TakenLinks {
  /// An irq-safe to irq-unsafe dependency's safe side, `safeToHeld`, to
  /// the held lock `held`.
  static func safeSide(_ safeToHeld: [ChainLink], held: LockSnapshot) -> [ChainLink] {
    fromFarEnd(safeToHeld, root: held.lockClass, rootUsage: held.usage)
  }

  /// An irq inversion's `path`, from `lock` (the lock being marked; else
  /// `other`) when found `forwards`, else back to it.
  static func inversion(
    _ path: [ChainLink], forwards: Bool, lock: LockSnapshot?, other: ClassID
  ) -> [ChainLink] {
    forwards ? path : fromRoot(path, root: lock?.lockClass ?? other, rootUsage: lock?.usage)
  }

  /// `links` of a backwards search from the far end to the root (an
  /// irq-unsafe dependency's `safeToHeld`, the root the held lock, with
  /// `rootUsage` its usage as the finding saw it).
  static func fromFarEnd(_ links: [ChainLink], root: ClassID, rootUsage: UsageMask?)
    -> [ChainLink]
  {
    links.indices.map { i in
      var link = links[i]
      let next = links.index(after: i)
      link.lockClass = next < links.endIndex ? links[next].lockClass : root
      link.usage = next < links.endIndex ? links[next].usage : rootUsage
      return link
    }
  }

  /// `links` of a backwards search from the root to the far end (a
  /// backwards irq inversion's path, the root the lock being marked, with
  /// `rootUsage` its usage as the finding saw it).
  static func fromRoot(_ links: [ChainLink], root: ClassID, rootUsage: UsageMask?)
    -> [ChainLink]
  {
    links.indices.map { i in
      var link = links[i]
      link.lockClass = i == links.startIndex ? root : links[i - 1].lockClass
      link.usage = i == links.startIndex ? rootUsage : links[i - 1].usage
      return link
    }
  }
}
