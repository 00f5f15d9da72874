// Running work on several threads inside a host process (a Postgres
// backend): helper threads start with every signal blocked, so that the
// host receives its signals (cancel, timeouts) on its own thread; the
// calling thread does a share of the work; an exception on any thread is
// rethrown on the calling one after all have finished, and a helper that
// cannot be started leaves its share to the others.
#pragma once

#include <pthread.h>
#include <signal.h>

#include <atomic>
#include <exception>
#include <mutex>
#include <thread>
#include <vector>

namespace gigavector {

// Calls fn(worker, workers) on `threads` threads (worker 0 is the caller),
// where the workers started may be fewer than asked. fn splits the work by
// worker. May throw what fn throws.
template <class Fn>
void RunParallel(int threads, Fn &&fn) {
    if (threads < 1) threads = 1;
    std::exception_ptr failure;
    std::mutex failure_mutex;
    std::atomic<int> workers{threads};
    std::atomic<bool> go{false};  // helpers wait until the count is settled
    auto guarded = [&](int worker) {
        try {
            fn(worker, workers.load());
        } catch (...) {
            std::lock_guard<std::mutex> guard(failure_mutex);
            if (!failure) failure = std::current_exception();
        }
    };
    std::vector<std::thread> helpers;
    if (threads > 1) {
        sigset_t all, old;
        sigfillset(&all);
        pthread_sigmask(SIG_BLOCK, &all, &old);
        // the number of workers is settled before any of them starts
        int started = 1;
        try {
            helpers.reserve((std::size_t)threads - 1);
        } catch (...) {
            threads = 1;
        }
        workers.store(threads);
        for (int t = 1; t < threads; t++) {
            try {
                helpers.emplace_back([&, t]() {
                    while (!go.load()) std::this_thread::yield();
                    guarded(t);
                });
                started++;
            } catch (...) {
                break;  // could not start a thread: fewer workers
            }
        }
        workers.store(started);
        go.store(true);
        pthread_sigmask(SIG_SETMASK, &old, nullptr);
    }
    guarded(0);
    for (std::thread &t : helpers) t.join();
    if (failure) std::rethrow_exception(failure);
}

}  // namespace gigavector
