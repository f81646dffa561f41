#define _GNU_SOURCE
#include "rcu_support.h"

#include <linux/membarrier.h>
#include <pthread.h>
#include <sched.h>
#include <semaphore.h>
#include <stdlib.h>
#include <string.h>
#include <sys/syscall.h>
#include <unistd.h>

_Atomic uint64_t rlc_rcu_gp_ctr = RLC_RCU_GP_COUNT;
_Atomic int rlc_rcu_has_membarrier = 0;
_Thread_local rlc_rcu_reader rlc_rcu_self __attribute__((tls_model("initial-exec")));
_Thread_local _Atomic uint64_t rlc_rcu_bench_counter __attribute__((tls_model("initial-exec")));

static int membarrier(int cmd, unsigned int flags) {
#ifdef __NR_membarrier
  return (int)syscall(__NR_membarrier, cmd, flags);
#else
  (void)cmd;
  (void)flags;
  return -1;
#endif
}

void rlc_rcu_flip_phase(void) {
  uint64_t v = atomic_load_explicit(&rlc_rcu_gp_ctr, memory_order_relaxed);
  atomic_store_explicit(&rlc_rcu_gp_ctr, v ^ RLC_RCU_GP_CTR_PHASE, memory_order_relaxed);
}

int rlc_rcu_init_membarrier(int refused) {
  // `refused`: take the full-fence read side (RAWLOCKCHECK_RCU_NO_MEMBARRIER;
  // tests it).
  int mask = refused ? -1 : membarrier(MEMBARRIER_CMD_QUERY, 0);
  int ok = mask >= 0 && (mask & MEMBARRIER_CMD_PRIVATE_EXPEDITED) &&
           membarrier(MEMBARRIER_CMD_REGISTER_PRIVATE_EXPEDITED, 0) == 0;
  atomic_store_explicit(&rlc_rcu_has_membarrier, ok, memory_order_relaxed);
  atomic_thread_fence(memory_order_seq_cst);
  return ok;
}

void rlc_rcu_mb_master(void) {
  if (atomic_load_explicit(&rlc_rcu_has_membarrier, memory_order_relaxed)) {
    // Readers fence with the compiler only: without this barrier no grace
    // period would be safe, so a failure here is fatal.
    if (membarrier(MEMBARRIER_CMD_PRIVATE_EXPEDITED, 0) != 0) abort();
    return;
  }
  atomic_thread_fence(memory_order_seq_cst);
}

int rlc_rcu_current_cpu(void) {
  int cpu = sched_getcpu();
  return cpu < 0 ? 0 : cpu;
}

void rlc_rcu_set_thread_name(const char *name) {
  char shortened[16];
  strncpy(shortened, name, sizeof shortened - 1);
  shortened[sizeof shortened - 1] = 0;
  pthread_setname_np(pthread_self(), shortened);
}

int rlc_rcu_sem_wait_until(void *semaphore, long seconds, long nanoseconds) {
  struct timespec deadline = {.tv_sec = seconds, .tv_nsec = nanoseconds};
  return sem_clockwait((sem_t *)semaphore, CLOCK_MONOTONIC, &deadline);
}
