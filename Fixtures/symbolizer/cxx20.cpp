// Symbolizer fixture: C++20 names GCC 12's __cxa_demangle cannot read when
// clang 17+ mangles them (Tn, Tk, Q), an inheriting constructor inlined by
// g++ (libiberty names it after the base class), and a lambda whose
// operator() gcc -O2 writes inside a local class inside its function's DIE,
// with an always_inline call in it (the inline frames once missed), and
// constructor templates of a class and of a class template, whose Tn
// names are built from DWARF (a constructor has no return type to print),
// and array and function types in such names.
#include <concepts>
#include <stdexcept>
#include <type_traits>

namespace fixture20 {
struct Fixed {
  int v;
  constexpr Fixed(int x) : v(x) {}
};
template <auto N> __attribute__((noinline)) int scaled(int x) { return x * N + 1; }
template <Fixed F> __attribute__((noinline)) int fixedScaled(int x) { return x * F.v + 2; }
template <std::integral T> __attribute__((noinline)) T twice(T x) { return x * 2 + 3; }
template <typename T>
  requires(sizeof(T) > 1)
__attribute__((noinline)) T thrice(T x) {
  return x * 3 + 4;
}
template <typename T, std::enable_if_t<(sizeof(T) > 2), int> = 0>
__attribute__((noinline)) T quad(T x) {
  return x * 4 + 5;
}

struct Box {
  int v;
  template <typename T, std::enable_if_t<(sizeof(T) > 0), bool> = true>
  __attribute__((noinline)) Box(T&& t) : v((int)t * 2) {
    asm volatile("");
  }
};
template <typename T> struct Holder {
  T v;
  template <typename U, std::enable_if_t<(sizeof(U) > 0), bool> = true>
  __attribute__((noinline)) Holder(U&& u) : v((T)u + 1) {
    asm volatile("");
  }
};

// A constructor template taking a string literal (an array by reference),
// and a function template with array, pointer-to-array, function-pointer,
// member-function-pointer and top-level const (also through a typedef)
// parameters: their Tn names are built from DWARF,
// where an array's bounds and the declarator's parentheses must be
// spelled as a demangler spells them (`char const (&) [6]`).
struct Text {
  int n;
  template <typename T, std::enable_if_t<(sizeof(T) > 0), bool> = true>
  __attribute__((noinline)) Text(T&& t) : n((int)sizeof(t)) {
    asm volatile("");
  }
};
__attribute__((noinline)) void note(int x) { asm volatile("" ::"r"(x)); }
struct Tally {
  int total = 0;
  __attribute__((noinline)) void add(int x) { total += x; }
};
typedef const int cint;
template <typename T, std::enable_if_t<(sizeof(T) > 1), int> = 0>
__attribute__((noinline)) int rows(const T x, int (*grid)[3], const int (&table)[2][3],
                                   void (*each)(int), int* const out, void (Tally::*add)(int),
                                   cint bias) {
  each((int)x);
  Tally tally;
  (tally.*add)(bias);
  *out = grid[0][1] + table[1][2] + (int)x + tally.total;
  return *out;
}

struct format_failure : std::runtime_error {
  using std::runtime_error::runtime_error;
};
__attribute__((noinline)) void check(int x) {
  if (x > 100) throw format_failure("big");
}

__attribute__((always_inline)) inline int exponent(int e, int* out) {
  if (e < 0) {
    *out++ = '-';
    e = -e;
  }
  if (e >= 100) *out++ = e / 100;
  *out = e % 10;
  return e;
}
template <typename T> __attribute__((noinline)) int writeFloat(T value, int* out) {
  auto write = [=](int* it) __attribute__((noinline)) {
    int s = 0;
    for (int i = 0; i < (int)value; i++) s += exponent(i - 50, it + (i & 3));
    return s;
  };
  return write(out) + write(out + 4);
}
}  // namespace fixture20

extern "C" int cxx20_entry(int n) {
  using namespace fixture20;
  int buffer[16] = {};
  check(n);
  Box box(n);
  Holder<long> holder(n);
  Text text("hello");
  int grid[2][3] = {};
  return text.n + rows((short)n, grid, grid, &note, buffer, &Tally::add, n) + box.v + (int)holder.v + scaled<3>(n) + fixedScaled<Fixed{5}>(n) + twice(n) + thrice(n) + quad(n) +
         writeFloat(n, buffer) + writeFloat((long)n, buffer);
}

int main(int argc, char**) { return cxx20_entry(argc); }
