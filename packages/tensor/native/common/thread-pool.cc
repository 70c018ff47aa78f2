#include "thread-pool.h"

#include <pthread.h>
#include <sched.h>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <condition_variable>
#include <cstdlib>
#include <cstring>
#include <mutex>
#include <thread>
#include <vector>

namespace lmflow {
namespace {

int default_threads() {
  if (const char* env = std::getenv("LMFLOW_NUM_THREADS")) {
    int n = std::atoi(env);
    if (n > 0) return n;
  }
  cpu_set_t set;
  if (sched_getaffinity(0, sizeof(set), &set) == 0) {
    int n = CPU_COUNT(&set);
    if (n > 0) return n;
  }
  unsigned n = std::thread::hardware_concurrency();
  return n > 0 ? static_cast<int>(n) : 1;
}

// CPUs for the workers: the ones this process may run on, when there is one per thread, so
// that worker i stays on its own core. Left to the OS (empty) with LMFLOW_PIN_THREADS=0 or
// more threads than CPUs. Unpinned, a worker woken for a job is sometimes placed on the
// caller's core and the two share it until the load balancer moves one: a 5-10 ms kernel
// then runs at one core's speed.
std::vector<int> worker_cpus(int threads) {
  if (const char* env = std::getenv("LMFLOW_PIN_THREADS")) {
    if (std::strcmp(env, "0") == 0) return {};
  }
  cpu_set_t set;
  if (sched_getaffinity(0, sizeof(set), &set) != 0) return {};
  std::vector<int> cpus;
  for (int cpu = 0; cpu < CPU_SETSIZE; ++cpu) {
    if (CPU_ISSET(cpu, &set)) cpus.push_back(cpu);
  }
  if (static_cast<int>(cpus.size()) < threads) return {};
  return cpus;
}

class Pool {
 public:
  explicit Pool(int n) { start(n); }
  ~Pool() { stop(); }

  int size() const { return size_; }

  void resize(int n) {
    std::lock_guard<std::mutex> busy(busy_);
    if (n == size_) return;
    stop();
    start(n);
  }

  // Runs job(i, size) for i in [0, size): the caller runs i = 0.
  void run(const std::function<void(int, int)>& job) {
    // A nested call (from inside a job) or a second caller thread (a worker_thread of
    // Node.js) runs inline rather than waiting for the pool.
    std::unique_lock<std::mutex> busy(busy_, std::try_to_lock);
    if (size_ == 1 || !busy.owns_lock()) {
      job(0, 1);
      return;
    }
    job_ = &job;
    pending_.store(size_ - 1, std::memory_order_relaxed);
    {
      std::lock_guard<std::mutex> lock(mutex_);
      generation_.store(next_post(false), std::memory_order_release);
    }
    wake_.notify_all();
    job(0, size_);
    // Wait for the workers; spin first, they usually finish within microseconds of us.
    int spins = 0;
    while (pending_.load(std::memory_order_acquire) != 0) {
      if (++spins > 4096) std::this_thread::yield();
    }
    job_ = nullptr;
  }

  // run() for jobs that any subset of the threads can finish (see parallel_run_elastic).
  void run_elastic(const std::function<void(int, int)>& job) {
    std::unique_lock<std::mutex> busy(busy_, std::try_to_lock);
    if (size_ == 1 || !busy.owns_lock()) {
      job(0, 1);
      return;
    }
    job_ = &job;
    const uint64_t post = next_post(true);
    ticket_.store(post_tag(post), std::memory_order_relaxed);
    {
      std::lock_guard<std::mutex> lock(mutex_);
      generation_.store(post, std::memory_order_release);
    }
    wake_.notify_all();
    job(0, size_);
    // Closed: a worker that has not joined by now skips this job; wait for those inside.
    ticket_.fetch_or(kClosed, std::memory_order_acq_rel);
    int spins = 0;
    while ((ticket_.load(std::memory_order_acquire) & kInside) != 0) {
      if (++spins > 4096) std::this_thread::yield();
    }
    job_ = nullptr;
  }

 private:
  // generation_ counts posted jobs in its high bits; bit 0 says whether the latest one is
  // elastic. One atomic word, so a worker reads a job's kind with the job itself.
  static constexpr uint64_t kElastic = 1;
  // ticket_ of an elastic job: its tag (the post's count, 32 bits) << 32, kClosed once the
  // caller is done, and in the low bits the workers inside the job.
  static constexpr uint64_t kClosed = uint64_t{1} << 31;
  static constexpr uint64_t kInside = kClosed - 1;

  uint64_t next_post(bool elastic) const {
    return (((generation_.load(std::memory_order_relaxed) >> 1) + 1) << 1) | (elastic ? kElastic : 0);
  }
  static uint64_t post_tag(uint64_t post) { return ((post >> 1) & 0xffffffffu) << 32; }

  // A worker joins an elastic job unless the caller has closed it (or moved on to another).
  bool join_elastic(uint64_t post) {
    uint64_t t = ticket_.load(std::memory_order_acquire);
    while ((t & ~(kClosed | kInside)) == post_tag(post) && (t & kClosed) == 0) {
      if (ticket_.compare_exchange_weak(t, t + 1, std::memory_order_acq_rel, std::memory_order_acquire)) return true;
    }
    return false;
  }

  void start(int n) {
    size_ = std::max(1, n);
    quit_ = false;
    // Workers start from the generation current now: a job posted before a new thread first
    // runs must still count as unseen by it, or run() would wait for it forever.
    const uint64_t generation = generation_.load(std::memory_order_acquire);
    const std::vector<int> cpus = worker_cpus(size_);
    for (int i = 1; i < size_; ++i) {
      workers_.emplace_back([this, i, generation] { loop(i, generation); });
      if (!cpus.empty()) {
        // Worker i on the i-th allowed CPU; the caller (i = 0) keeps its own affinity.
        cpu_set_t one;
        CPU_ZERO(&one);
        CPU_SET(cpus[i], &one);
        pthread_setaffinity_np(workers_.back().native_handle(), sizeof(one), &one);
      }
    }
  }

  void stop() {
    {
      std::lock_guard<std::mutex> lock(mutex_);
      quit_ = true;
      generation_.store(next_post(false), std::memory_order_release);
    }
    wake_.notify_all();
    for (auto& t : workers_) t.join();
    workers_.clear();
  }

  void loop(int index, uint64_t seen) {
    for (;;) {
      // Spin before blocking, for kSpin: decoding posts a job every few tens of microseconds
      // (one per weight product, other ops in between), and a worker asleep in the condition
      // variable wakes too late to share it (the caller, which starts at once, then reads the
      // weight alone at one core's bandwidth).
      const auto until = std::chrono::steady_clock::now() + kSpin;
      for (int spins = 0; generation_.load(std::memory_order_acquire) == seen; ++spins) {
#if defined(__x86_64__)
        __builtin_ia32_pause();
#endif
        if ((spins & 63) == 63 && std::chrono::steady_clock::now() > until) break;
      }
      if (generation_.load(std::memory_order_acquire) == seen) {
        std::unique_lock<std::mutex> lock(mutex_);
        wake_.wait(lock, [&] { return generation_.load(std::memory_order_acquire) != seen; });
      }
      seen = generation_.load(std::memory_order_acquire);
      if (quit_) return;
      if ((seen & kElastic) != 0) {
        // Woken late, this worker may see a later elastic job than the one it was woken for
        // (never a later ordinary one: run() waits for every worker), and serves that one.
        if (join_elastic(seen)) {
          (*job_)(index, size_);
          ticket_.fetch_sub(1, std::memory_order_acq_rel);
        }
        continue;
      }
      (*job_)(index, size_);
      pending_.fetch_sub(1, std::memory_order_acq_rel);
    }
  }

  static constexpr std::chrono::microseconds kSpin{300};
  int size_ = 1;
  std::atomic<bool> quit_{false};
  std::mutex busy_;
  const std::function<void(int, int)>* job_ = nullptr;
  std::atomic<uint64_t> generation_{0};
  std::atomic<int> pending_{0};
  std::atomic<uint64_t> ticket_{0};
  std::mutex mutex_;
  std::condition_variable wake_;
  std::vector<std::thread> workers_;
};

Pool& pool() {
  static Pool instance(default_threads());
  return instance;
}

}  // namespace

void parallel_run(const std::function<void(int, int)>& fn) { pool().run(fn); }

void parallel_run_elastic(const std::function<void(int, int)>& fn) { pool().run_elastic(fn); }

void parallel_for(int64_t n, int64_t grain, const std::function<void(int64_t, int64_t)>& fn) {
  if (n <= 0) return;
  grain = std::max<int64_t>(1, grain);
  int threads = pool().size();
  int64_t chunks = std::min<int64_t>(threads, (n + grain - 1) / grain);
  if (chunks <= 1) {
    fn(0, n);
    return;
  }
  pool().run([&](int i, int size) {
    // Static split: equal contiguous ranges keep each thread on its own cache lines.
    int64_t parts = std::min<int64_t>(chunks, size);
    if (i >= parts) return;
    int64_t begin = n * i / parts;
    int64_t end = n * (i + 1) / parts;
    if (begin < end) fn(begin, end);
  });
}

int num_threads() { return pool().size(); }

void set_num_threads(int n) { pool().resize(n > 0 ? n : default_threads()); }

}  // namespace lmflow
