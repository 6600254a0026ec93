/* Baselines for bench/exit: the pio_loop guest on a bare Unicorn engine
 * and on a bare KVM_RUN loop, with empty I/O handlers. */
#ifndef PARAPET_BENCH_EXIT_BARE_H
#define PARAPET_BENCH_EXIT_BARE_H

#include <stdint.h>

/* Loads the image with the guest command line "n=N", runs it to its debug
 * exit and returns the loop time the guest measured with the timestamp
 * port ("pio_loop: X us" on its console) in ns, or -1. */
double bare_unicorn_run(const char *image, uint64_t n);
double bare_kvm_run(const char *image, uint64_t n);

/* bare_unicorn_run in a child process: the CPU time (ns) the whole child
 * used, from fork to exit, or -1. */
double bare_unicorn_cpu(const char *image, uint64_t n);

/* The loop time in a pio_loop console transcript, in ns, or -1. */
double bare_parse_loop_ns(const char *console);

#endif
