// What the Lockdep target needs and Swift cannot say: a per-thread pointer
// in ELF thread-local storage (readable from a signal handler, cheaper than
// pthread_getspecific), a compiler-only barrier between a thread and its own
// signal handlers, the CPU's spin-wait hint, where a function of the
// runtime lies (its ELF symbol), and an exit status set after every atexit
// handler ran (a destructor).
#ifndef RAWLOCKCHECK_LOCKDEP_SUPPORT_H
#define RAWLOCKCHECK_LOCKDEP_SUPPORT_H

#include <stdatomic.h>
#include <stddef.h>
#include <stdint.h>

/// The kernel's id of the calling thread (`gettid()`).
int32_t rlc_gettid(void);

/// Nonzero in a process that `fork()` made without `exec` (the program's
/// first process is 0), whether or not the validator existed at the fork.
int rlc_is_forked_child(void);
/* Noted before the validator is first made: a child of a fork made after
 * that (even while it was being made) validates nothing. */
void rlc_lockdep_note_validator_starting(void);
/* Whether this process is a child of a fork made after that. */
int rlc_lockdep_forked_after_start(void);

/// Makes the process end with `status` (1 to 255; 0: its own status again)
/// once every `atexit` handler has run: `_exit(status)` from a destructor,
/// after standard I/O is flushed (as ThreadSanitizer's `exitcode=`).
void rlc_override_exit_status(int status);

/// The calling thread's name (`pthread_getname_np`); 0 on success.
int rlc_thread_name(char *buffer, size_t size);

/// Names the calling thread for the system (`pthread_setname_np`, at most
/// 15 bytes are kept); 0 on success.
int rlc_set_thread_name(const char *name);

/// The code of the function the dynamic linker knows as `name` (in the
/// program or a library it loaded): its start and size in bytes, from its
/// ELF symbol. 0 when there is no such symbol or it has no size.
int rlc_function_range(const char *name, uintptr_t *start, uintptr_t *size);

/// Offers every job enqueued on the Swift runtime's global concurrent
/// executor to `router` from now on (NULL: to none), with its delay in
/// nanoseconds (0 for a job to run now): a job it takes (returning
/// nonzero) is the router's to run; one it declines goes on as before.
/// Installs the runtime's enqueue hooks on first use (chaining any set
/// before), and leaves them installed.
void rlc_route_global_jobs(int (*router)(void *job, unsigned long long delay));

/// The id of the task a job of the Swift runtime is (0 for a job that is
/// no task): task ids count up as tasks are made, and are never reused.
unsigned long long rlc_job_task_id(void *job);

/// The calling thread's validator state (a retained Swift object), or NULL.
/// Initial-exec: one load from the thread pointer at a fixed offset, not a
/// lookup (valid in the program and in libraries it links). A library
/// loaded later with dlopen that holds it takes its whole TLS block, the
/// orphan area's 4 KiB with it, from glibc's static TLS surplus (512
/// bytes unless `glibc.rtld.optional_static_tls` says more): there the
/// dlopen fails (README).
extern _Thread_local void *rlc_lockdep_thread_state
    __attribute__((tls_model("initial-exec")));

static inline __attribute__((always_inline)) void *rlc_lockdep_thread(void) {
  return rlc_lockdep_thread_state;
}

static inline __attribute__((always_inline)) void rlc_lockdep_set_thread(void *state) {
  rlc_lockdep_thread_state = state;
}

/// How deep the calling thread is in signal handlers installed through
/// Lockdep (0: not in one). Events there are queued, not validated: the
/// validator may allocate, and a signal may have interrupted `malloc`.
extern _Thread_local int rlc_lockdep_signal_depth_value __attribute__((tls_model("initial-exec")));

static inline __attribute__((always_inline)) int rlc_lockdep_signal_depth(void) {
  return rlc_lockdep_signal_depth_value;
}

static inline __attribute__((always_inline)) void rlc_lockdep_enter_signal(void) {
  rlc_lockdep_signal_depth_value += 1;
  atomic_signal_fence(memory_order_seq_cst);
}

static inline __attribute__((always_inline)) void rlc_lockdep_leave_signal(void) {
  atomic_signal_fence(memory_order_seq_cst);
  rlc_lockdep_signal_depth_value -= 1;
}

/// Static per-thread storage (zero-filled when the thread starts, never
/// allocated) for the events of signal handlers that run on a thread the
/// validator has no state for yet: nothing may be allocated in a handler.
void *rlc_orphan_storage(void);
/// The size of `rlc_orphan_storage()` in bytes.
unsigned long rlc_orphan_storage_size(void);
/// Installs `hook`, run at the exit of each thread that armed it (once,
/// before any handler may arm it).
void rlc_orphan_exit_hook_install(void (*hook)(void));
/// Arms the exit hook for the calling thread; allocates nothing (safe in a
/// signal handler). Does nothing when the hook could not be made safe.
void rlc_orphan_exit_hook_arm(void);

/// Blocks every signal on the calling thread, saving the old mask in
/// `saved` (a `sigset_t`-sized buffer, `rlc_sigset_size()` bytes).
void rlc_block_signals(void *saved);

/// Blocks every signal on the calling thread for the rest of its life (its
/// exit: a handler run after its validator ended would be checked by no one).
void rlc_block_signals_for_exit(void);

/// Unblocks the signals a crash or `abort()` raises (SIGABRT, SIGSEGV,
/// SIGBUS, SIGILL, SIGFPE, SIGTRAP) on the calling thread, before it
/// aborts from where signals are blocked (a signal handler's events
/// replayed): blocked, the Swift runtime's crash handler could not run,
/// and the process ended by SIGSEGV rather than SIGABRT.
void rlc_unblock_crash_signals(void);

/// Restores a mask saved by `rlc_block_signals`.
void rlc_restore_signals(const void *saved);

/// The size of a `sigset_t`.
unsigned long rlc_sigset_size(void);

/// The return address of the function this is inlined into: in a lock's
/// `lock()`, the caller's call site (lockdep's `_RET_IP_`).
static inline __attribute__((always_inline)) void *rlc_return_address(void) {
  return __builtin_return_address(0);
}

/// The return address of the caller of the function this is inlined into,
/// one frame up through the frame pointers Swift keeps: in a debug build,
/// where a lock's `callerAddress` getter is a frame of its own, the lock
/// operation's call site.
static inline __attribute__((always_inline)) void *rlc_return_address_of_caller(void) {
  return __builtin_return_address(1);
}

/// Orders memory accesses between this thread and a signal handler that
/// interrupts it; emits no instruction.
static inline __attribute__((always_inline)) void rlc_signal_fence(void) {
  atomic_signal_fence(memory_order_seq_cst);
}

/// The spin-wait hint (`pause` on x86, `yield` on Arm).
static inline __attribute__((always_inline)) void rlc_cpu_relax(void) {
#if defined(__x86_64__) || defined(__i386__)
  __builtin_ia32_pause();
#elif defined(__aarch64__)
  __asm__ __volatile__("yield");
#endif
}

#endif
