/*
 * liburcu's side of scripts/bench-rcu.sh (Debian's liburcu-dev, memb
 * flavour): the read-side enter/exit pair, and N allocations each freed by
 * call_rcu() followed by one rcu_barrier(). Built by the script with cc
 * into .build/bench-rcu/ (not a SwiftPM target: the package builds where
 * liburcu is not installed). Prints `readPairNs=X` and `callRcuNsPerObject=Y`.
 *
 *   cc -O2 -D_LGPL_SOURCE urcu-bench.c -lurcu-memb -o urcu-bench
 *   ./urcu-bench [read-iterations] [objects]
 */
#define _LGPL_SOURCE 1
#include <stdio.h>
#include <stdlib.h>
#include <time.h>
#include <urcu/urcu-memb.h>

struct object {
	struct rcu_head head; /* 16 bytes, as RCUHead */
	long word;            /* 24 bytes in all, as kmalloc(24) */
};

static double now_ns(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec * 1e9 + ts.tv_nsec;
}

static void free_object(struct rcu_head *head)
{
	free(caa_container_of(head, struct object, head));
}

int main(int argc, char **argv)
{
	long reads = argc > 1 ? atol(argv[1]) : 200000000L;
	long objects = argc > 2 ? atol(argv[2]) : 1000000L;

	urcu_memb_register_thread();
	double best = 1e30;
	for (int run = 0; run < 5; run++) {
		double start = now_ns();
		for (long i = 0; i < reads; i++) {
			urcu_memb_read_lock();
			cmm_barrier();
			urcu_memb_read_unlock();
		}
		double ns = (now_ns() - start) / reads;
		if (ns < best)
			best = ns;
	}
	printf("readPairNs=%.3f\n", best);

	double best_call = 1e30;
	for (int run = 0; run < 3; run++) {
		double start = now_ns();
		for (long i = 0; i < objects; i++) {
			struct object *p = malloc(sizeof *p);
			p->word = i;
			urcu_memb_call_rcu(&p->head, free_object);
		}
		urcu_memb_barrier();
		double ns = (now_ns() - start) / objects;
		if (ns < best_call)
			best_call = ns;
	}
	printf("callRcuNsPerObject=%.3f\n", best_call);
	urcu_memb_unregister_thread();
	return 0;
}
