// Addresses with no code behind them (SymbolizerTests/OutsideCodeTests).
// Built with -ffunction-sections -Wl,--gc-sections: `discarded_helper` is
// never called, so the linker drops its code and GNU ld resolves its DWARF
// (DW_AT_low_pc, its unit's DW_AT_ranges, its line sequence) to address 0.
// Its range [0, size) covers the ELF header (kept below the first code
// section: a sequence at 0 that overlapped live code would also interleave
// with its line rows, see docs/symbolizer.md). `bare_tail` is a function symbol without a size.
#include <stdio.h>

volatile int sink;

#define STORE4(n) sink = (n); sink = (n) + 1; sink = (n) + 2; sink = (n) + 3;
#define STORE16(n) STORE4(n) STORE4((n) + 4) STORE4((n) + 8) STORE4((n) + 12)
#define STORE64(n) STORE16(n) STORE16((n) + 16) STORE16((n) + 32) STORE16((n) + 48)

void discarded_helper(int x) {
  STORE64(x) STORE64(x + 64)
}

__attribute__((noinline)) int kept_first(int x) { return x * 3 + sink; }
__attribute__((noinline)) int kept_second(int x) { return x * 5 - sink; }

const char outside_table[] = "read-only data, not code";
void bare_tail(void);

__asm__(".section .text.zzz_bare_tail,\"ax\",@progbits\n"
        ".globl bare_tail\n.type bare_tail,@function\nbare_tail:\n  ret\n"
        ".text\n");

int main(int argc, char **argv) {
  (void)argv;
  if (argc > 99) bare_tail();
  printf("%d %d %s\n", kept_first(argc), kept_second(argc), outside_table);
  return 0;
}
