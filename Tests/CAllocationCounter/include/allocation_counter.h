// Counts the calling thread's heap allocations, for tests that check a path
// allocates nothing. The test executable's malloc family is interposed
// (allocation_counter.c): each call counts, then goes to glibc's.
#ifndef RAWLOCKCHECK_ALLOCATION_COUNTER_H
#define RAWLOCKCHECK_ALLOCATION_COUNTER_H

#include <stdint.h>

/// Allocations made by the calling thread so far.
uint64_t rlc_thread_allocations(void);

/// 1 when allocations are counted; 0 under a sanitizer, which interposes
/// the malloc family itself.
int rlc_allocation_counting(void);

#endif
