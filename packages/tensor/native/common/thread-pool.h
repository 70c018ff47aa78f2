// A fixed pool of worker threads shared by every kernel of the CPU backend.
//
// Size: LMFLOW_NUM_THREADS when set, else the number of cores the process may run on.
// The calling thread always takes part, so a pool of size N starts N-1 workers.
// Workers spin briefly before sleeping: kernels arrive in quick succession during a
// training step, and waking a sleeping thread costs more than a short spin.
#pragma once

#include <cstdint>
#include <functional>

namespace lmflow {

// Calls fn(begin, end) on disjoint chunks covering [0, n); chunks are at least `grain` long.
// Runs inline when n is small or the pool has one thread. Not reentrant: a kernel running
// inside parallel_for must not call parallel_for again (it runs inline if it does).
void parallel_for(int64_t n, int64_t grain, const std::function<void(int64_t, int64_t)>& fn);

// Calls fn(thread_index, num_threads) once on each pool thread (the caller is index 0).
// For kernels that partition work themselves (GEMM) or keep per-thread scratch buffers.
void parallel_run(const std::function<void(int, int)>& fn);

// Like parallel_run, for jobs that hand out their work dynamically (a shared counter), so that
// any subset of the threads finishes it: the caller runs fn(0, n) at once; a worker runs
// fn(i, n) only if it wakes before the caller's call returns. The caller then waits only for
// the workers already inside fn. Decoding calls a skinny product ~100 times per token, each
// a fraction of a millisecond: waiting for a worker the OS has not scheduled yet (its core
// busy with another process, or the thread asleep) would cost more than the product.
void parallel_run_elastic(const std::function<void(int, int)>& fn);

int num_threads();
// Resizes the pool (tests and benchmarks); n <= 0 restores the default.
void set_num_threads(int n);

}  // namespace lmflow
