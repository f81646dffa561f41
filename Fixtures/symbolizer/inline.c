// Symbolizer fixture: C with inlined frames. Built by the tests with
// `gcc -O2 -g -fno-omit-frame-pointer`; the tests read its DWARF and compare
// the symbolizer's answers with llvm-symbolizer's.
#include <stdio.h>
#include <stdlib.h>

extern int cxx_entry(int);

static volatile int sink;

static inline __attribute__((always_inline)) int leaf_mix(int x) {
  sink = x * 3;          // deepest inlined frame
  return sink + 1;
}

static inline __attribute__((always_inline)) int middle_step(int x) {
  int y = leaf_mix(x + 1);
  sink = y;
  return leaf_mix(y) * 2;
}

__attribute__((noinline)) int outer_work(int n) {
  int total = 0;
  for (int i = 0; i < n; i++) {
    total += middle_step(i);
  }
  return total;
}

__attribute__((noinline)) static int static_helper(int n) {
  sink = n;
  return outer_work(n) + sink;
}

// Three names for one function, equal in size: llvm-symbolizer names the
// address by the one last in the symbol table (not the one that sorts last).
__attribute__((noinline)) int zz_alias_impl(int n) {
  sink = n;
  return n + sink;
}
extern int aa_alias_first(int) __attribute__((alias("zz_alias_impl")));
extern int mm_alias_second(int) __attribute__((alias("zz_alias_impl")));

int main(int argc, char **argv) {
  int n = argc > 1 ? atoi(argv[1]) : 3;
  printf("%d %d %d\n", static_helper(n), cxx_entry(n), aa_alias_first(n) + mm_alias_second(n));
  return 0;
}
