// The C surface the Symbolizer target needs: elfutils (libdwfl, libdw,
// libelf), zlib (which libelf uses for compressed debug sections; the
// symbolizer inflates them itself, see DwarfImage.swift), the DWARF constants, the dynamic linker's module iteration, and the
// few libc, libswiftCore and libstdc++ functions that Swift's Glibc module does
// not expose. Declarations only, plus small inline functions for the stack
// walk: one reads the frame pointer (Swift has no way to name a register),
// one finds the stack's top from ld.so's variable, one has the kernel copy
// a frame record that may not be readable (Swift cannot call `syscall`).
#ifndef RAWLOCKCHECK_CELFUTILS_SHIM_H
#define RAWLOCKCHECK_CELFUTILS_SHIM_H

#include <stddef.h>
#include <stdint.h>
#include <errno.h>
#include <pthread.h>
#include <unistd.h>
#include <sys/syscall.h>
#include <sys/uio.h>
#include <link.h>
#include <gelf.h>
#include <dwarf.h>
#include <elfutils/libdw.h>
#include <elfutils/libdwfl.h>
#include <elfutils/libdwelf.h>
#include <zlib.h>

// <execinfo.h> and the GNU pthread extensions are hidden from Swift's Glibc
// module; declare the ones we use with glibc's exact prototypes.
extern int backtrace(void **buffer, int size);
#ifndef __USE_GNU
// glibc's <link.h> defines this only under _GNU_SOURCE, which Swift's Glibc
// module is not built with (defining it here would make the two modules
// disagree about other structs). Same layout as glibc 2.36's definition.
struct dl_phdr_info {
  ElfW(Addr) dlpi_addr;
  const char *dlpi_name;
  const ElfW(Phdr) *dlpi_phdr;
  ElfW(Half) dlpi_phnum;
  unsigned long long int dlpi_adds;
  unsigned long long int dlpi_subs;
  size_t dlpi_tls_modid;
  void *dlpi_tls_data;
};
#endif
extern int dl_iterate_phdr(int (*callback)(struct dl_phdr_info *info, size_t size, void *data),
                           void *data);
extern int pthread_getattr_np(pthread_t thread, pthread_attr_t *attr);

// libswiftCore: the backtracer's demangler (Swift and C++, simplified form),
// and the public one (Swift only, full form). Both return a malloc'd string
// when outputBuffer is NULL, or NULL when the name is not mangled.
extern char *_swift_backtrace_demangle(const char *mangledName, size_t mangledNameLength,
                                       char *outputBuffer, size_t *outputBufferSize);
extern char *swift_demangle(const char *mangledName, size_t mangledNameLength,
                            char *outputBuffer, size_t *outputBufferSize, uint32_t flags);

// libstdc++: the Itanium C++ ABI demangler.
extern char *__cxa_demangle(const char *mangledName, char *outputBuffer, size_t *length,
                            int *status);

// ld.so: where the main thread's stack started (the process's first stack
// pointer, set before `_start`'s first frame).
extern void *__libc_stack_end;

/// The top of the stack that frame `frame` lies on, if it lies on the
/// thread's own stack, found without allocating (for a signal handler on
/// a thread whose stack bounds were never computed: `pthread_getattr_np`
/// allocates), or 0 when not known. A thread glibc started has its
/// descriptor (`pthread_self()`) at the top of its stack block, a stack
/// the caller supplied included; the main thread's descriptor lies
/// elsewhere (below its stack), and its stack ends at `__libc_stack_end`.
/// An upper bound only: a frame on another stack below it (an alternate
/// signal stack, a coroutine's) has guard pages and holes between it and
/// the top, so a walk up to it copies each frame record through the
/// kernel (`rlc_read_frame`).
static inline uintptr_t rlc_stack_top_without_allocating(uintptr_t frame) {
  uintptr_t self = (uintptr_t)pthread_self();
  uintptr_t start = (uintptr_t)__libc_stack_end;
  // A thread's stack is far less than 1 GiB: a descriptor further away is
  // not the top of this stack.
  const uintptr_t most = (uintptr_t)1 << 30;
  if (frame < self && self - frame < most) return self;
  if (frame < start && start - frame < most) return start;
  return 0;
}

/// Copies the frame record (two words: the caller's frame pointer, the
/// return address) at `address` into `record`, through the kernel:
/// `process_vm_readv` of this process fails with EFAULT where a read here
/// would fault (an unmapped or PROT_NONE page), even if another thread
/// unmaps or protects the page meanwhile (a check first and a read then
/// could fault in between). No side effect, and `errno` is kept (signal
/// handlers call this). Returns whether all 16 bytes were copied; false
/// where the system refuses the call (a seccomp filter): the walk then
/// stops.
static inline int rlc_read_frame(uintptr_t address, void *record) {
  struct iovec local = {record, 2 * sizeof(uintptr_t)};
  struct iovec remote = {(void *)address, 2 * sizeof(uintptr_t)};
  int saved = errno;
  long copied = syscall(SYS_process_vm_readv, (long)getpid(), &local, 1UL, &remote, 1UL, 0UL);
  errno = saved;
  return copied == (long)(2 * sizeof(uintptr_t));
}

/// The current function's frame pointer (the start of the frame-pointer
/// chain). Always inlined, so it is the caller's frame.
static inline __attribute__((always_inline)) void *rlc_frame_address(void) {
  return __builtin_frame_address(0);
}

#endif
