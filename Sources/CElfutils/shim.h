// The C surface the Symbolizer target needs: elfutils (libdwfl, libdw,
// libelf), zlib (which libelf uses for compressed debug sections; the
// symbolizer inflates them itself, see DwarfImage.swift), the DWARF constants, the dynamic linker's module iteration, and the
// few libc, libswiftCore and libstdc++ functions that Swift's Glibc module does
// not expose. Declarations only, plus one one-line inline function that reads
// the frame pointer (Swift has no way to name a register).
#ifndef RAWLOCKCHECK_CELFUTILS_SHIM_H
#define RAWLOCKCHECK_CELFUTILS_SHIM_H

#include <stddef.h>
#include <stdint.h>
#include <pthread.h>
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

/// The current function's frame pointer (the start of the frame-pointer
/// chain). Always inlined, so it is the caller's frame.
static inline __attribute__((always_inline)) void *rlc_frame_address(void) {
  return __builtin_frame_address(0);
}

#endif
