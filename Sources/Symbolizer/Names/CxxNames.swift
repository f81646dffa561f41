import CElfutils

/// Readable C++ function names built from DWARF, for linkage names the C++
/// runtime's demangler cannot read.
///
/// GCC 12's `__cxa_demangle` does not know the productions clang 17 and later
/// emit for C++20 templates (`Tn`, `Tk`, `Ty`, `Tt`, `Tp` template parameter
/// declarations, `Q` requires-clauses); for those names the frame's DIE is
/// the only other source of a readable name. The name is put together the
/// way `c++filt` prints one: the scopes of the declaration (namespaces,
/// classes, the function a local class is in), the function's name with its
/// template arguments (from its `DW_TAG_template_*_parameter` children when
/// every one can be printed, else as the compiler spelled them in
/// `DW_AT_name`), the parameter types, `const` for a const method, and the
/// return type of a function template. `DW_AT_abstract_origin` and
/// `DW_AT_specification` are followed as llvm-symbolizer follows them.
///
/// Scopes need each DIE's parent, which libdw does not keep: `parents` maps
/// the offset of every DIE under a namespace, class or function of the unit
/// to its parent, built once per unit by `parentTable(of:)` when a name first
/// needs it. A DIE of another unit (a type unit, which clang's
/// `-fdebug-types-section` puts a class in, its declaration in this unit
/// naming it by `DW_AT_signature`) finds its scopes in a table of its own
/// unit, built when first needed.
struct CxxNames {
  /// The parent of each DIE (by `dwarf_dieoffset`) of one unit.
  let parents: [Dwarf_Off: Dwarf_Die]
  /// The unit `parents` is of (`Dwarf_Die.cu` of its DIEs).
  let unit: OpaquePointer?
  /// What building one name has spent (reset by `functionName(_:)`).
  private let budget = Budget()
  /// The parent tables of other units, by their `Dwarf_CU`.
  private let otherUnits = OtherUnits()

  /// The names of the unit whose DIE is `unitDie`.
  init(unit unitDie: Dwarf_Die) {
    parents = Self.parentTable(of: unitDie)
    unit = unitDie.cu
  }

  /// Parent tables of units other than the one names are built for (type
  /// units), each built once. Names are built on one lane's thread at a
  /// time.
  private final class OtherUnits {
    var tables: [OpaquePointer: [Dwarf_Off: Dwarf_Die]] = [:]
  }

  /// The work one name may take. The depth limits of the functions below
  /// start again where a name leads into another (a template argument's
  /// type, a local class's function): a DIE whose type refers back to
  /// itself, as a damaged one can, recursed until the stack overflowed
  /// (51,500 frames). Names are built on one lane's thread at a time.
  private final class Budget {
    /// Type and function names being built, one inside the other.
    var nesting = 0
    /// Type and function names built for this name so far.
    var calls = 0
    /// A part was refused: the name is not to be trusted.
    var exhausted = false
  }

  /// Nested type and function names one name may build at once; `maxCalls`
  /// in all. A real name needs a few dozen at most.
  static let maxNesting = 64
  static let maxCalls = 4_000

  /// `body` within the budget, else `fallback`.
  @inline(__always)
  private func budgeted<T>(_ fallback: T, _ body: () -> T) -> T {
    guard budget.nesting < Self.maxNesting, budget.calls < Self.maxCalls else {
      budget.exhausted = true
      return fallback
    }
    budget.nesting += 1
    budget.calls += 1
    defer { budget.nesting -= 1 }
    return body()
  }

  /// Every DIE of the unit whose DIE is `unitDie`, below scopes that can
  /// name something (namespaces, types, functions, blocks), by offset,
  /// mapped to its parent.
  static func parentTable(of unitDie: Dwarf_Die) -> [Dwarf_Off: Dwarf_Die] {
    var table: [Dwarf_Off: Dwarf_Die] = [:]
    var unit = unitDie
    func visit(_ parent: inout Dwarf_Die, depth: Int) {
      var child = Dwarf_Die()
      guard depth < 64, dwarf_child(&parent, &child) == 0 else { return }
      while true {
        table[dwarf_dieoffset(&child)] = parent
        switch Int(dwarf_tag(&child)) {
        case DW_TAG_namespace, DW_TAG_structure_type, DW_TAG_class_type, DW_TAG_union_type,
          DW_TAG_subprogram, DW_TAG_lexical_block, DW_TAG_enumeration_type:
          if dwarf_haschildren(&child) != 0 { visit(&child, depth: depth + 1) }
        default:
          break
        }
        var next = Dwarf_Die()
        guard dwarf_siblingof(&child, &next) == 0 else { return }
        child = next
      }
    }
    visit(&unit, depth: 0)
    return table
  }

  /// The readable name of the function whose (concrete, abstract or
  /// declaration) DIE is `die`, or nil when no DIE of its chain has a name.
  /// Nil too when building it took more than the budget (a cycle of
  /// references in damaged DWARF): the caller prints the linkage name.
  func functionName(_ die: Dwarf_Die) -> String? {
    budget.nesting = 0
    budget.calls = 0
    budget.exhausted = false
    let name = functionName(die, depth: 0)
    return budget.exhausted ? nil : name
  }

  private func functionName(_ die: Dwarf_Die, depth: Int) -> String? {
    budgeted(nil) { functionNameInBudget(die, depth: depth) }
  }

  private func functionNameInBudget(_ die: Dwarf_Die, depth: Int) -> String? {
    guard depth < 8 else { return nil }
    // The DIE, then what it completes (abstract origin, specification).
    var chain = [die]
    while chain.count < 8 {
      var current = chain[chain.count - 1]
      var attribute = Dwarf_Attribute()
      var target = Dwarf_Die()
      guard
        dwarf_attr(&current, UInt32(DW_AT_abstract_origin), &attribute) != nil
          || dwarf_attr(&current, UInt32(DW_AT_specification), &attribute) != nil,
        dwarf_formref_die(&attribute, &target) != nil
      else { break }
      chain.append(target)
    }
    guard let name = chain.lazy.compactMap({ Self.ownName($0) }).first else { return nil }
    let declaration = chain[chain.count - 1]
    let scopes = scopePrefix(of: declaration, depth: depth)
    // Parameters from the first DIE of the chain that lists typed ones.
    var parameters: [String] = []
    var isConst = false
    for var candidate in chain.reversed() {
      var found = false
      var typed: [String] = []
      forEachChild(of: &candidate) { child in
        guard dwarf_tag(&child) == Int32(DW_TAG_formal_parameter) else { return }
        found = true
        guard let resolved = Self.type(of: child) else { return }
        if Self.flag(&child, DW_AT_artificial) {
          // `this`: a pointer to a const class makes a const method.
          if Self.tag(resolved) == DW_TAG_pointer_type, let inner = Self.type(of: resolved) {
            isConst = Self.tag(inner) == DW_TAG_const_type
          }
          return
        }
        typed.append(parameterTypeName(resolved, depth: 0))
      }
      if found {
        parameters = typed
        break
      }
    }
    var base = name
    var arguments = ""
    if let open = Self.templateStart(name) {
      base = String(name[..<open])
      arguments = templateArguments(of: chain) ?? String(name[open...])
    }
    var text = scopes + base + arguments + "(" + parameters.joined(separator: ", ") + ")"
    if isConst { text += " const" }
    // A function template's return type is part of its mangled name, and
    // c++filt prints it (constructors, destructors and conversions have none).
    if !arguments.isEmpty, !base.hasPrefix("~"), !base.hasPrefix("operator "),
      base != Self.innermostScope(scopes)
    {
      let result = Self.type(of: chain[0]).map { typeName($0, depth: 0) } ?? "void"
      text = result + " " + text
    }
    return text
  }

  /// `parent::…::` of a declaration: its namespaces, classes and the
  /// function a local class is declared in; empty at unit level.
  private func scopePrefix(of die: Dwarf_Die, depth: Int) -> String {
    var names: [String] = []
    var current = die
    while names.count < 32, let parent = parent(of: &current) {
      var scope = parent
      switch Int(dwarf_tag(&scope)) {
      case DW_TAG_namespace:
        names.append(Self.ownName(scope) ?? "(anonymous namespace)")
      case DW_TAG_structure_type, DW_TAG_class_type, DW_TAG_union_type,
        DW_TAG_enumeration_type:
        names.append(typeOwnName(scope))
      case DW_TAG_subprogram:
        // A local class: the function it is declared in, whole.
        names.append(functionName(scope, depth: depth + 1) ?? "{unknown}")
        return names.reversed().joined(separator: "::") + "::"
      default:
        break
      }
      current = scope
    }
    return names.isEmpty ? "" : names.reversed().joined(separator: "::") + "::"
  }

  /// The parent of `die`, from its own unit's table.
  private func parent(of die: inout Dwarf_Die) -> Dwarf_Die? {
    let offset = dwarf_dieoffset(&die)
    guard let other = die.cu, other != unit else { return parents[offset] }
    if let table = otherUnits.tables[other] { return table[offset] }
    var unitDie = Dwarf_Die()
    guard dwarf_diecu(&die, &unitDie, nil, nil) != nil else { return nil }
    let table = Self.parentTable(of: unitDie)
    otherUnits.tables[other] = table
    return table[offset]
  }

  /// The DIE that defines the class `die` declares: `die` itself, or,
  /// for a declaration that names its class by type signature (clang's
  /// `-fdebug-types-section`: a nameless `DW_AT_declaration` with
  /// `DW_AT_signature`), the class in its type unit (an unnamed one there,
  /// a lambda, is `{lambda}`). Nil, and the name untrusted, when libdw
  /// cannot find that unit, or its DIE names a signature again (one hop: a
  /// loop of signatures in damaged DWARF is no name).
  private func definition(of die: Dwarf_Die) -> Dwarf_Die? {
    guard Self.ownName(die) == nil, let target = Self.signatureTarget(of: die) else { return die }
    guard let found = target, Self.ownName(found) != nil || Self.signatureTarget(of: found) == nil
    else {
      budget.exhausted = true
      return nil
    }
    return found
  }

  /// The DIE `die`'s `DW_AT_signature` names: nil when it has none, nil
  /// inside when libdw cannot find it.
  private static func signatureTarget(of die: Dwarf_Die) -> Dwarf_Die?? {
    var copy = die
    var attribute = Dwarf_Attribute()
    var target = Dwarf_Die()
    guard dwarf_attr(&copy, UInt32(DW_AT_signature), &attribute) != nil else { return nil }
    return dwarf_formref_die(&attribute, &target) != nil ? .some(target) : .some(nil)
  }

  /// A class's name with its template arguments, as c++filt prints a
  /// lambda (`{lambda(int*)}`) or an unnamed class.
  /// A declaration that names its class by signature (the class of a
  /// member function declared in it) is named as that class.
  private func typeOwnName(_ die: Dwarf_Die) -> String {
    guard let defined = definition(of: die) else { return "?" }
    guard let name = Self.ownName(defined) else { return "{lambda}" }
    if name.hasPrefix("<lambda") && name.hasSuffix(">") {
      // gcc: `<lambda(int*)>`.
      return "{" + name.dropFirst().dropLast() + "}"
    }
    guard let open = Self.templateStart(name) else { return name }
    return String(name[..<open]) + (templateArguments(of: [defined]) ?? String(name[open...]))
  }

  /// `<a, b>` from the template parameter children of the first DIE of
  /// `chain` that has any; nil when there are none or one cannot be printed
  /// (a class-type value, a template template parameter).
  private func templateArguments(of chain: [Dwarf_Die]) -> String? {
    for var die in chain {
      var arguments: [String] = []
      var ok = true
      forEachChild(of: &die) { child in
        collectArgument(&child, into: &arguments, ok: &ok)
      }
      guard !arguments.isEmpty || !ok else { continue }
      guard ok else { return nil }
      let joined = arguments.joined(separator: ", ")
      return "<" + joined + (joined.hasSuffix(">") ? " >" : ">")
    }
    return nil
  }

  private func collectArgument(
    _ child: inout Dwarf_Die, into arguments: inout [String], ok: inout Bool
  ) {
    switch Int(dwarf_tag(&child)) {
    case DW_TAG_template_type_parameter:
      arguments.append(Self.type(of: child).map { typeName($0, depth: 0) } ?? "void")
    case DW_TAG_template_value_parameter:
      var attribute = Dwarf_Attribute()
      var value: Dwarf_Sword = 0
      guard dwarf_attr(&child, UInt32(DW_AT_const_value), &attribute) != nil,
        dwarf_formsdata(&attribute, &value) == 0
      else {
        ok = false
        return
      }
      let typeText = Self.type(of: child).map { typeName($0, depth: 0) }
      switch typeText {
      case "bool": arguments.append(value != 0 ? "true" : "false")
      case "unsigned int", "unsigned long", "unsigned long long":
        arguments.append(
          "\(UInt64(bitPattern: Int64(value)))u"
            + (typeText == "unsigned int" ? "" : typeText == "unsigned long" ? "l" : "ll"))
      case "long": arguments.append("\(value)l")
      case "long long": arguments.append("\(value)ll")
      case "int", nil: arguments.append("\(value)")
      default: arguments.append("(\(typeText!))\(value)")
      }
    case DW_TAG_GNU_template_parameter_pack:
      forEachChild(of: &child) { element in
        collectArgument(&element, into: &arguments, ok: &ok)
      }
    case DW_TAG_GNU_template_template_param:
      ok = false
    default:
      break
    }
  }

  /// A type as c++filt prints it: typedefs resolved (mangled names hold the
  /// underlying type), qualifiers after what they qualify (`char const*`),
  /// a pointer or reference to an array or function in parentheses
  /// (`char const (&) [6]`, `void (*)(int)`).
  private func typeName(_ die: Dwarf_Die, depth: Int) -> String {
    typeText(die, depth: depth).text
  }

  /// A type's text in two parts around the place of a declarator, so that
  /// a pointer, reference or member pointer to an array or function goes
  /// between them in parentheses, as C++ writes it: `int` and ` [3]` make
  /// `int [3]`, and a pointer to it `int (*) [3]`.
  struct TypeText {
    /// What comes before the declarator: `char const`, `void (*`.
    var left: String
    /// What comes after it: ` [6]`, `(int)`, `) [3]`; empty for most types.
    var right = ""
    /// An array or function type itself, to which a pointer or reference
    /// is written in parentheses.
    var wantsParentheses = false
    /// A function type itself (`void (int)`: a blank between its parts).
    var isFunction = false

    /// The whole type.
    var text: String { isFunction ? left + " " + right : left + right }

    /// A pointer, reference or member pointer (`mark`: `*`, `&`, `&&`,
    /// `Class::*`) to this type.
    func pointer(_ mark: String, spaced: Bool) -> TypeText {
      if wantsParentheses { return TypeText(left: left + " (" + mark, right: ")" + right) }
      return TypeText(left: left + (spaced ? " " : "") + mark, right: right)
    }
  }

  /// `die`'s type in its two parts (`TypeText`); `?` past 32 levels.
  private func typeText(_ die: Dwarf_Die, depth: Int) -> TypeText {
    budgeted(TypeText(left: "?")) { typeTextInBudget(die, depth: depth) }
  }

  private func typeTextInBudget(_ die: Dwarf_Die, depth: Int) -> TypeText {
    guard depth < 32 else { return TypeText(left: "?") }
    let target = Self.type(of: die)
    func inner() -> TypeText {
      target.map { typeText($0, depth: depth + 1) } ?? TypeText(left: "void")
    }
    switch Self.tag(die) {
    case DW_TAG_base_type:
      return TypeText(left: Self.baseName(Self.ownName(die) ?? "?"))
    case DW_TAG_const_type, DW_TAG_volatile_type:
      // Of an array, the qualifier is its element's (`char const [6]`).
      var type = inner()
      type.left += Self.tag(die) == DW_TAG_const_type ? " const" : " volatile"
      return type
    case DW_TAG_restrict_type, DW_TAG_atomic_type, DW_TAG_typedef: return inner()
    case DW_TAG_pointer_type: return inner().pointer("*", spaced: false)
    case DW_TAG_reference_type: return inner().pointer("&", spaced: false)
    case DW_TAG_rvalue_reference_type: return inner().pointer("&&", spaced: false)
    case DW_TAG_subroutine_type:
      return functionType(die, depth: depth + 1)
    case DW_TAG_array_type:
      let element = inner()
      // An array of arrays (through a typedef) continues the bounds.
      let rest = element.wantsParentheses ? String(element.right.dropFirst()) : element.right
      return TypeText(
        left: element.left, right: " " + arrayBounds(die) + rest, wantsParentheses: true)
    case DW_TAG_ptr_to_member_type:
      var copy = die
      var attribute = Dwarf_Attribute()
      var owner = Dwarf_Die()
      var ownerName = "?"
      if dwarf_attr(&copy, UInt32(DW_AT_containing_type), &attribute) != nil,
        dwarf_formref_die(&attribute, &owner) != nil
      {
        ownerName = typeName(owner, depth: depth + 1)
      }
      return inner().pointer(ownerName + "::*", spaced: true)
    case DW_TAG_structure_type, DW_TAG_class_type, DW_TAG_union_type, DW_TAG_enumeration_type:
      // A declaration naming its class by signature is that class, named
      // in its type unit's scopes; one whose type unit is missing is no
      // name to trust (it printed as a lambda, `std::{lambda} const&` for
      // `std::string const&`, before 2026-12-07).
      guard let named = definition(of: die) else { return TypeText(left: "?") }
      return TypeText(left: scopePrefix(of: named, depth: 0) + typeOwnName(named))
    default:
      return TypeText(left: Self.ownName(die) ?? "?")
    }
  }

  /// `[6]`, `[2][3]` from an array type's subranges (`DW_AT_count`, or
  /// `DW_AT_upper_bound` + 1); `[]` for one of unknown bound.
  private func arrayBounds(_ die: Dwarf_Die) -> String {
    var array = die
    var bounds = ""
    forEachChild(of: &array) { child in
      guard dwarf_tag(&child) == Int32(DW_TAG_subrange_type) else { return }
      var attribute = Dwarf_Attribute()
      var value: Dwarf_Word = 0
      if dwarf_attr(&child, UInt32(DW_AT_count), &attribute) != nil,
        dwarf_formudata(&attribute, &value) == 0
      {
        bounds += "[\(value)]"
      } else if dwarf_attr(&child, UInt32(DW_AT_upper_bound), &attribute) != nil,
        dwarf_formudata(&attribute, &value) == 0
      {
        // gcc gives `int a[0]` an upper bound of -1.
        bounds += "[\(value == UInt64.max ? 0 : value + 1)]"
      } else {
        bounds += "[]"
      }
    }
    return bounds.isEmpty ? "[]" : bounds
  }

  /// A function type `R (A, B)`: its result, then its parameter types
  /// (without their top-level `const`, which is no part of a function's
  /// type or mangled name).
  private func functionType(_ die: Dwarf_Die, depth: Int) -> TypeText {
    var function = die
    let result = Self.type(of: die).map { typeName($0, depth: depth) } ?? "void"
    var parameters: [String] = []
    forEachChild(of: &function) { child in
      // The artificial `this` of a member function's type is no parameter
      // a mangled name lists (`void (A::*)(int)`).
      guard Self.tag(child) == DW_TAG_formal_parameter, !Self.flag(&child, DW_AT_artificial),
        let type = Self.type(of: child)
      else {
        return
      }
      parameters.append(parameterTypeName(type, depth: depth))
    }
    return TypeText(
      left: result, right: "(" + parameters.joined(separator: ", ") + ")", wantsParentheses: true,
      isFunction: true)
  }

  /// A parameter's type as a mangled name holds it: without its top-level
  /// `const` and `volatile` (`unsigned long` for `unsigned long const`),
  /// through typedefs too (`typedef const int cint`: `int`).
  private func parameterTypeName(_ die: Dwarf_Die, depth: Int) -> String {
    var type = die
    while [DW_TAG_const_type, DW_TAG_volatile_type, DW_TAG_typedef].contains(Self.tag(type)),
      let target = Self.type(of: type)
    {
      type = target
    }
    return typeName(type, depth: depth)
  }

  private func forEachChild(of die: inout Dwarf_Die, _ body: (inout Dwarf_Die) -> Void) {
    var child = Dwarf_Die()
    guard dwarf_child(&die, &child) == 0 else { return }
    while true {
      body(&child)
      var next = Dwarf_Die()
      guard dwarf_siblingof(&child, &next) == 0 else { return }
      child = next
    }
  }

  /// The DIE `DW_AT_type` of `die` refers to (through its abstract origin
  /// or specification when it has none itself).
  private static func type(of die: Dwarf_Die) -> Dwarf_Die? {
    var copy = die
    var attribute = Dwarf_Attribute()
    var target = Dwarf_Die()
    guard dwarf_attr_integrate(&copy, UInt32(DW_AT_type), &attribute) != nil,
      dwarf_formref_die(&attribute, &target) != nil
    else { return nil }
    return target
  }

  private static func tag(_ die: Dwarf_Die) -> Int {
    var copy = die
    return Int(dwarf_tag(&copy))
  }

  private static func flag(_ die: inout Dwarf_Die, _ name: Int) -> Bool {
    var attribute = Dwarf_Attribute()
    var value = false
    guard dwarf_attr_integrate(&die, UInt32(name), &attribute) != nil,
      dwarf_formflag(&attribute, &value) == 0
    else { return false }
    return value
  }

  /// `DW_AT_name` of the DIE itself.
  private static func ownName(_ die: Dwarf_Die) -> String? {
    var copy = die
    var attribute = Dwarf_Attribute()
    guard dwarf_attr(&copy, UInt32(DW_AT_name), &attribute) != nil,
      let text = dwarf_formstring(&attribute)
    else { return nil }
    return String(cString: text)
  }

  /// Where the template arguments of a name start (`copy<char, 0>`), not
  /// counting the `<` of an operator's own name.
  /// The name of the innermost scope of `scopes` (`a::b<c::d>::`), without
  /// its template arguments (`b`): a function of that name is a
  /// constructor. Nil at unit level.
  static func innermostScope(_ scopes: String) -> String? {
    guard scopes.hasSuffix("::") else { return nil }
    let characters = Array(scopes.dropLast(2))
    var depth = 0
    var start = 0
    var index = 0
    while index < characters.count {
      switch characters[index] {
      case "<", "(": depth += 1
      case ">", ")": depth -= 1
      case ":" where depth == 0 && index + 1 < characters.count && characters[index + 1] == ":":
        start = index + 2
        index += 1
      default: break
      }
      index += 1
    }
    let last = String(characters[start...])
    return templateStart(last).map { String(last[..<$0]) } ?? last
  }

  static func templateStart(_ name: String) -> String.Index? {
    var search = name.startIndex
    if name.hasPrefix("operator") {
      let operatorEnd = name.index(name.startIndex, offsetBy: 8)
      search = operatorEnd
      for symbol in ["<=>", "<<=", "<<", "<=", "<", ">>=", ">>", ">=", ">", "->"]
      where name[operatorEnd...].hasPrefix(symbol) {
        search = name.index(operatorEnd, offsetBy: symbol.count)
        break
      }
    }
    guard name.hasSuffix(">") else { return nil }
    return name[search...].firstIndex(of: "<")
  }

  /// A base type as the Itanium demangler spells it (gcc writes
  /// `long unsigned int`, c++filt prints `unsigned long`).
  static func baseName(_ name: String) -> String {
    switch name {
    case "long int": return "long"
    case "long unsigned int": return "unsigned long"
    case "short int": return "short"
    case "short unsigned int": return "unsigned short"
    case "long long int": return "long long"
    case "long long unsigned int": return "unsigned long long"
    case "__int128": return "__int128"
    case "__int128 unsigned": return "unsigned __int128"
    default: return name
    }
  }
}
