#define _GNU_SOURCE
#include "lockdep_support.h"

#include <dlfcn.h>
#include <limits.h>
#include <link.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <string.h>
#include <sys/syscall.h>
#include <unistd.h>

_Thread_local void *rlc_lockdep_thread_state __attribute__((tls_model("initial-exec"))) = 0;
_Thread_local int rlc_lockdep_signal_depth_value __attribute__((tls_model("initial-exec"))) = 0;

/* 4 KiB per thread: a few handler runs of a thread that never took a lock. */
#define RLC_ORPHAN_BYTES 4096
static _Thread_local _Alignas(64) unsigned char rlc_orphan_area[RLC_ORPHAN_BYTES];

void *rlc_orphan_storage(void) { return rlc_orphan_area; }

unsigned long rlc_orphan_storage_size(void) { return RLC_ORPHAN_BYTES; }

/* The thread-exit hook for queued orphan events. glibc keeps the values of
   the first 32 keys (PTHREAD_KEY_2NDLEVEL_SIZE) in the thread descriptor,
   so setting one allocates nothing and takes no lock: safe in a handler.
   A later key is not armed from a handler (it may allocate); its thread's
   orphans then wait for the thread's next lock event as before. */
static pthread_key_t rlc_orphan_exit_key;
static int rlc_orphan_exit_key_usable;
static void (*rlc_orphan_exit_hook)(void);

static void rlc_orphan_exit_destructor(void *value) {
  (void)value;
  if (rlc_orphan_exit_hook) rlc_orphan_exit_hook();
}

void rlc_orphan_exit_hook_install(void (*hook)(void)) {
  rlc_orphan_exit_hook = hook;
  if (pthread_key_create(&rlc_orphan_exit_key, rlc_orphan_exit_destructor) == 0)
    rlc_orphan_exit_key_usable = rlc_orphan_exit_key < 32;
}

void rlc_orphan_exit_hook_arm(void) {
  if (rlc_orphan_exit_key_usable) pthread_setspecific(rlc_orphan_exit_key, (void *)1);
}

void rlc_block_signals(void *saved) {
  sigset_t all;
  sigfillset(&all);
  pthread_sigmask(SIG_BLOCK, &all, (sigset_t *)saved);
}

void rlc_block_signals_for_exit(void) {
  sigset_t all;
  sigfillset(&all);
  pthread_sigmask(SIG_BLOCK, &all, 0);
}

void rlc_unblock_crash_signals(void) {
  sigset_t crash;
  sigemptyset(&crash);
  sigaddset(&crash, SIGABRT);
  sigaddset(&crash, SIGSEGV);
  sigaddset(&crash, SIGBUS);
  sigaddset(&crash, SIGILL);
  sigaddset(&crash, SIGFPE);
  sigaddset(&crash, SIGTRAP);
  pthread_sigmask(SIG_UNBLOCK, &crash, 0);
}

void rlc_restore_signals(const void *saved) {
  pthread_sigmask(SIG_SETMASK, (const sigset_t *)saved, 0);
}

unsigned long rlc_sigset_size(void) { return sizeof(sigset_t); }

int32_t rlc_gettid(void) { return (int32_t)syscall(SYS_gettid); }

/* Set in a child of fork() (without exec), whenever the fork happened:
 * the handler is registered when the program is loaded, before any fork,
 * while the validator's own handler exists only once it was made. */
static atomic_int rlc_forked = 0;

/* Set (in the parent) before the validator is first made, and (in a child)
 * when the fork happened after that: perhaps while another thread was
 * still making it, which the child would then wait for forever (the
 * thread making it is not in the child). */
static atomic_int rlc_validator_starting = 0;
static atomic_int rlc_forked_after_start = 0;

static void rlc_note_fork_child(void) {
  atomic_store_explicit(&rlc_forked, 1, memory_order_relaxed);
  if (atomic_load_explicit(&rlc_validator_starting, memory_order_relaxed))
    atomic_store_explicit(&rlc_forked_after_start, 1, memory_order_relaxed);
}

void rlc_lockdep_note_validator_starting(void) {
  /* Read first: once set, the line stays shared between the cores. */
  if (!atomic_load_explicit(&rlc_validator_starting, memory_order_relaxed))
    atomic_store_explicit(&rlc_validator_starting, 1, memory_order_seq_cst);
}

int rlc_lockdep_forked_after_start(void) {
  return atomic_load_explicit(&rlc_forked_after_start, memory_order_relaxed);
}

__attribute__((constructor)) static void rlc_register_fork_note(void) {
  pthread_atfork(NULL, NULL, rlc_note_fork_child);
}

static atomic_int rlc_exit_status;

void rlc_override_exit_status(int status) {
  atomic_store_explicit(&rlc_exit_status, status, memory_order_relaxed);
}

/* A destructor runs from exit() after the atexit handlers registered
 * since the program started (the dynamic linker's finalizer, which runs
 * destructors, was registered before main): the program's handlers and the
 * trace recorder's flush have run; what stdio buffers is flushed here,
 * since _exit skips the rest. */
__attribute__((destructor)) static void rlc_apply_exit_status(void) {
  int status = atomic_load_explicit(&rlc_exit_status, memory_order_relaxed);
  if (status != 0) {
    fflush(NULL);
    _exit(status);
  }
}

int rlc_is_forked_child(void) { return atomic_load_explicit(&rlc_forked, memory_order_relaxed); }

int rlc_thread_name(char *buffer, size_t size) {
  return pthread_getname_np(pthread_self(), buffer, size);
}

int rlc_set_thread_name(const char *name) {
  char shortened[16];
  strncpy(shortened, name, sizeof shortened - 1);
  shortened[sizeof shortened - 1] = 0;
  return pthread_setname_np(pthread_self(), shortened);
}

int rlc_function_range(const char *name, uintptr_t *start, uintptr_t *size) {
  void *address = dlsym(RTLD_DEFAULT, name);
  Dl_info info;
  const ElfW(Sym) *symbol = NULL;
  if (address == NULL || !dladdr1(address, &info, (void **)&symbol, RTLD_DL_SYMENT) ||
      symbol == NULL || symbol->st_size == 0) {
    return 0;
  }
  *start = (uintptr_t)address;
  *size = (uintptr_t)symbol->st_size;
  return 1;
}

/* Routing the global concurrent executor's jobs through the runtime's hooks
   (`swift_task_enqueueGlobal_hook` and its delayed forms, swiftcc; a
   hook set before is chained): while a router is set, each job is offered
   to it, with its delay in nanoseconds (0: none), and goes on to the
   runtime's executor only when the router declines it. */
typedef __attribute__((swiftcall)) void (*rlc_enqueue_original)(void *job);
typedef __attribute__((swiftcall)) void (*rlc_enqueue_hook)(
    void *job, rlc_enqueue_original original);
typedef __attribute__((swiftcall)) void (*rlc_delay_original)(unsigned long long delay, void *job);
typedef __attribute__((swiftcall)) void (*rlc_delay_hook)(
    unsigned long long delay, void *job, rlc_delay_original original);
typedef __attribute__((swiftcall)) void (*rlc_deadline_original)(
    long long sec, long long nsec, long long tsec, long long tnsec, int clock, void *job);
typedef __attribute__((swiftcall)) void (*rlc_deadline_hook)(
    long long sec, long long nsec, long long tsec, long long tnsec, int clock, void *job,
    rlc_deadline_original original);

extern rlc_enqueue_hook swift_task_enqueueGlobal_hook;
extern rlc_delay_hook swift_task_enqueueGlobalWithDelay_hook;
extern rlc_deadline_hook swift_task_enqueueGlobalWithDeadline_hook;
extern __attribute__((swiftcall)) void swift_get_time(
    long long *seconds, long long *nanoseconds, int clock);

static rlc_enqueue_hook rlc_previous_enqueue;
static rlc_delay_hook rlc_previous_delay;
static rlc_deadline_hook rlc_previous_deadline;
static int (*_Atomic rlc_job_router)(void *job, unsigned long long delay);
static pthread_once_t rlc_hooks_once = PTHREAD_ONCE_INIT;

static __attribute__((swiftcall)) void rlc_enqueue_global(
    void *job, rlc_enqueue_original original) {
  int (*router)(void *, unsigned long long) =
      atomic_load_explicit(&rlc_job_router, memory_order_acquire);
  if (router != NULL && router(job, 0)) return;
  if (rlc_previous_enqueue != NULL) {
    rlc_previous_enqueue(job, original);
  } else {
    original(job);
  }
}

static __attribute__((swiftcall)) void rlc_enqueue_global_with_delay(
    unsigned long long delay, void *job, rlc_delay_original original) {
  int (*router)(void *, unsigned long long) =
      atomic_load_explicit(&rlc_job_router, memory_order_acquire);
  if (router != NULL && router(job, delay == 0 ? 1 : delay)) return;
  if (rlc_previous_delay != NULL) {
    rlc_previous_delay(delay, job, original);
  } else {
    original(delay, job);
  }
}

static __attribute__((swiftcall)) void rlc_enqueue_global_with_deadline(
    long long sec, long long nsec, long long tsec, long long tnsec, int clock, void *job,
    rlc_deadline_original original) {
  int (*router)(void *, unsigned long long) =
      atomic_load_explicit(&rlc_job_router, memory_order_acquire);
  if (router != NULL) {
    long long now_sec = 0, now_nsec = 0;
    swift_get_time(&now_sec, &now_nsec, clock);
    // In 128 bits, saturated: a deadline more than about 292 years ahead
    // (a task sleeping "for ever") overflowed the product of 64, wrapped
    // negative, and ran the job at once (undefined behaviour besides).
    __int128 left = ((__int128)sec - now_sec) * 1000000000 + ((__int128)nsec - now_nsec);
    unsigned long long delay = left <= 0                         ? 1
                               : left >= (__int128)ULLONG_MAX ? ULLONG_MAX
                                                              : (unsigned long long)left;
    if (router(job, delay)) return;
  }
  if (rlc_previous_deadline != NULL) {
    rlc_previous_deadline(sec, nsec, tsec, tnsec, clock, job, original);
  } else {
    original(sec, nsec, tsec, tnsec, clock, job);
  }
}

static void rlc_install_job_hooks(void) {
  rlc_previous_enqueue = swift_task_enqueueGlobal_hook;
  rlc_previous_delay = swift_task_enqueueGlobalWithDelay_hook;
  rlc_previous_deadline = swift_task_enqueueGlobalWithDeadline_hook;
  swift_task_enqueueGlobal_hook = rlc_enqueue_global;
  swift_task_enqueueGlobalWithDelay_hook = rlc_enqueue_global_with_delay;
  swift_task_enqueueGlobalWithDeadline_hook = rlc_enqueue_global_with_deadline;
}

extern __attribute__((swiftcall)) unsigned long long swift_task_getJobTaskId(void *job);

unsigned long long rlc_job_task_id(void *job) { return swift_task_getJobTaskId(job); }

void rlc_route_global_jobs(int (*router)(void *job, unsigned long long delay)) {
  if (router != NULL) pthread_once(&rlc_hooks_once, rlc_install_job_hooks);
  atomic_store_explicit(&rlc_job_router, router, memory_order_release);
}

