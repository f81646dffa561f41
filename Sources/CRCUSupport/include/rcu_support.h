// What the RCU read side needs and Swift cannot say: the calling thread's
// reader record in ELF thread-local storage (found with no call), relaxed
// loads and stores of its counter, the compiler-only fence that pairs with
// the writer's membarrier(), and membarrier() itself.
//
// The scheme is liburcu's "memb" flavour. A reader's counter word holds its
// nesting depth in the low 32 bits and, while the depth is not zero, the
// grace-period phase bit it entered under (copied from the global counter
// by the outermost rcu_read_lock). A writer waits until no registered
// reader is inside a section entered under the old phase, flips the phase,
// and waits again.
#ifndef RAWLOCKCHECK_RCU_SUPPORT_H
#define RAWLOCKCHECK_RCU_SUPPORT_H

#include <stdatomic.h>
#include <stdbool.h>
#include <stdint.h>

#pragma clang assume_nonnull begin

/// One nesting level in a reader's counter word.
#define RLC_RCU_GP_COUNT ((uint64_t)1)
/// The grace-period phase bit.
#define RLC_RCU_GP_CTR_PHASE ((uint64_t)1 << 32)
/// The nesting depth's bits.
#define RLC_RCU_NEST_MASK (RLC_RCU_GP_CTR_PHASE - 1)

/// A thread's reader record.
///
/// Invariants: only its own thread (and signal handlers on it, which leave
/// it as they found it) writes `ctr`, `countdown` and `validate`; writers
/// only read `ctr`, with relaxed loads between full fences. `validate` and
/// `countdown` change only while the depth is zero, so every level of one
/// outermost section sees the same `validate`.
typedef struct rlc_rcu_reader {
  /// Depth (low 32 bits) and the phase entered under (bit 32).
  _Atomic uint64_t ctr;
  /// Outermost sections left before the slow path runs again (registers the
  /// thread when zero at first, and re-reads the validation policy).
  uint32_t countdown;
  /// Whether this thread's sections are reported to the lock validator.
  uint8_t validate;
  /// Whether the record is in the registry.
  uint8_t registered;
  /// The registry's list, through the records themselves (liburcu's
  /// `node`): registering links a record in and allocates nothing, so a
  /// thread may register in a signal handler that interrupted `malloc`.
  /// Changed and read only under the registry's lock.
  struct rlc_rcu_reader *_Nullable next;
  struct rlc_rcu_reader *_Nullable prev;
} rlc_rcu_reader;

/// The global grace-period counter: `RLC_RCU_GP_COUNT` plus the current phase.
extern _Atomic uint64_t rlc_rcu_gp_ctr;

/// Whether writers use membarrier() (then readers need only a compiler
/// fence). Set once, before the first reader registers; never changes.
extern _Atomic int rlc_rcu_has_membarrier;

/// The calling thread's record.
extern _Thread_local rlc_rcu_reader rlc_rcu_self __attribute__((tls_model("initial-exec")));

/// The calling thread's reader record.
static inline __attribute__((always_inline)) rlc_rcu_reader *rlc_rcu_reader_self(void) {
  return &rlc_rcu_self;
}

/// The read side's half of the barrier pair: a compiler fence when writers
/// use membarrier(), a full fence otherwise.
static inline __attribute__((always_inline)) void rlc_rcu_mb_slave(void) {
  if (__builtin_expect(atomic_load_explicit(&rlc_rcu_has_membarrier, memory_order_relaxed), 1))
    atomic_signal_fence(memory_order_seq_cst);
  else
    atomic_thread_fence(memory_order_seq_cst);
}

/// Enters a read-side section. Returns 0 when the slow path must run first
/// (nothing was entered), else 1 + whether to report it to the validator.
static inline __attribute__((always_inline)) int rlc_rcu_enter(rlc_rcu_reader *r) {
  uint64_t tmp = atomic_load_explicit(&r->ctr, memory_order_relaxed);
  if (__builtin_expect(!(tmp & RLC_RCU_NEST_MASK), 1)) {
    if (__builtin_expect(r->countdown == 0, 0)) return 0;
    r->countdown--;
    atomic_store_explicit(
        &r->ctr, atomic_load_explicit(&rlc_rcu_gp_ctr, memory_order_relaxed),
        memory_order_relaxed);
    rlc_rcu_mb_slave();
  } else {
    atomic_store_explicit(&r->ctr, tmp + RLC_RCU_GP_COUNT, memory_order_relaxed);
  }
  return 1 + r->validate;
}

/// Leaves a read-side section. Returns -1 when the thread was in none
/// (nothing changed), else the depth left.
static inline __attribute__((always_inline)) int64_t rlc_rcu_exit(rlc_rcu_reader *r) {
  uint64_t tmp = atomic_load_explicit(&r->ctr, memory_order_relaxed);
  if (__builtin_expect(!(tmp & RLC_RCU_NEST_MASK), 0)) return -1;
  rlc_rcu_mb_slave();
  atomic_store_explicit(&r->ctr, tmp - RLC_RCU_GP_COUNT, memory_order_relaxed);
  return (int64_t)((tmp - RLC_RCU_GP_COUNT) & RLC_RCU_NEST_MASK);
}

/// Whether the current outermost section is reported to the validator.
static inline __attribute__((always_inline)) bool rlc_rcu_reader_validates(rlc_rcu_reader *r) {
  return r->validate != 0;
}

/// The slow path's settings for the next `countdown` outermost sections
/// (only while the depth is zero).
static inline void rlc_rcu_reader_refresh(rlc_rcu_reader *r, bool validate, uint32_t countdown) {
  r->validate = validate;
  r->countdown = countdown;
}

/// Whether the record is in the registry.
static inline bool rlc_rcu_reader_is_registered(rlc_rcu_reader *r) { return r->registered != 0; }

/// Marks the record registered or not (under the registry lock).
static inline void rlc_rcu_reader_set_registered(rlc_rcu_reader *r, bool registered) {
  r->registered = registered;
  if (!registered) r->countdown = 0;
}

/// The depth of the calling thread's read-side sections.
static inline __attribute__((always_inline)) uint32_t rlc_rcu_depth(rlc_rcu_reader *r) {
  return (uint32_t)(atomic_load_explicit(&r->ctr, memory_order_relaxed) & RLC_RCU_NEST_MASK);
}

/// A writer's view of a reader: 0 outside any section, 1 inside one entered
/// under the current phase, 2 inside one entered under the old phase (the
/// writer must wait for it).
static inline int rlc_rcu_reader_state(rlc_rcu_reader *r) {
  uint64_t v = atomic_load_explicit(&r->ctr, memory_order_relaxed);
  if (!(v & RLC_RCU_NEST_MASK)) return 0;
  uint64_t gp = atomic_load_explicit(&rlc_rcu_gp_ctr, memory_order_relaxed);
  return ((v ^ gp) & RLC_RCU_GP_CTR_PHASE) ? 2 : 1;
}

/// Flips the global phase (writers only, serialized by the grace-period lock).
void rlc_rcu_flip_phase(void);

/// Decides once whether membarrier(MEMBARRIER_CMD_PRIVATE_EXPEDITED) is
/// available (and registers for it); returns `rlc_rcu_has_membarrier`.
/// `refused` nonzero (RAWLOCKCHECK_RCU_NO_MEMBARRIER, read by the caller
/// as the other RAWLOCKCHECK_* variables are) says no.
int rlc_rcu_init_membarrier(int refused);

/// The writer's half: membarrier() on every running thread of the process,
/// or a full fence when readers fence themselves.
void rlc_rcu_mb_master(void);

/// A full fence (`smp_mb()`).
static inline __attribute__((always_inline)) void rlc_rcu_smp_mb(void) {
  atomic_thread_fence(memory_order_seq_cst);
}

/// The spin-wait hint.
static inline __attribute__((always_inline)) void rlc_rcu_cpu_relax(void) {
#if defined(__x86_64__) || defined(__i386__)
  __builtin_ia32_pause();
#elif defined(__aarch64__)
  __asm__ __volatile__("yield");
#endif
}

/// The processor the calling thread runs on now (`sched_getcpu()`), or 0.
int rlc_rcu_current_cpu(void);

/// The benchmark's baseline: a thread-local counter that other threads may
/// read, incremented and decremented with relaxed loads and stores around
/// compiler fences: the floor of any counter-based read side.
extern _Thread_local _Atomic uint64_t rlc_rcu_bench_counter
    __attribute__((tls_model("initial-exec")));

/// Baseline entry.
static inline __attribute__((always_inline)) void rlc_rcu_bench_counter_enter(void) {
  uint64_t v = atomic_load_explicit(&rlc_rcu_bench_counter, memory_order_relaxed);
  atomic_store_explicit(&rlc_rcu_bench_counter, v + 1, memory_order_relaxed);
  atomic_signal_fence(memory_order_seq_cst);
}

/// Baseline exit.
static inline __attribute__((always_inline)) void rlc_rcu_bench_counter_exit(void) {
  atomic_signal_fence(memory_order_seq_cst);
  uint64_t v = atomic_load_explicit(&rlc_rcu_bench_counter, memory_order_relaxed);
  atomic_store_explicit(&rlc_rcu_bench_counter, v - 1, memory_order_relaxed);
}

/// Names the calling thread for the system (at most 15 bytes are kept).
void rlc_rcu_set_thread_name(const char *name);

/// Waits on `semaphore` (a `sem_t`) until the CLOCK_MONOTONIC time
/// `seconds`.`nanoseconds` at the latest (`sem_clockwait()`, which Swift's
/// Glibc module does not show): 0 when it took one, else -1 with `errno`
/// set (ETIMEDOUT, EINTR).
int rlc_rcu_sem_wait_until(void *semaphore, long seconds, long nanoseconds);

#pragma clang assume_nonnull end

#endif
