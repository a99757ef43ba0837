// ActionQueue: how the lab's web threads get work done on the pipeline's thread. Pipeline,
// Sink and the jobs are not thread-safe; everything that reads or changes them from a web
// request is posted here as a closure, and the pipeline's thread (RealTimeDriver's wait hook)
// runs the closures between job runs, in the order they were posted.
//
// call() posts a closure and waits for its result; after close() (the lab is stopping) it
// returns nullopt at once, and closures already posted are still run by the next drain.
// Thread safety: every method may be called from any thread; wait_and_run() and run_pending()
// from the pipeline's thread only.
#pragma once

#include <chrono>
#include <condition_variable>
#include <deque>
#include <functional>
#include <future>
#include <memory>
#include <mutex>
#include <optional>

namespace kappa {

class ActionQueue {
 public:
  // Runs `fn` on the pipeline's thread and returns its result, or nullopt if the queue is
  // closed or the pipeline did not get to it within `timeout` (a long batch is running).
  template <class T>
  std::optional<T> call(std::function<T()> fn, std::chrono::milliseconds timeout) {
    auto promise = std::make_shared<std::promise<T>>();
    std::future<T> result = promise->get_future();
    {
      std::lock_guard lock(mu_);
      if (closed_) return std::nullopt;
      pending_.push_back([promise, fn = std::move(fn)] { promise->set_value(fn()); });
    }
    cv_.notify_one();
    if (result.wait_for(timeout) != std::future_status::ready) return std::nullopt;
    return result.get();
  }

  // Waits up to `wait_ms` for closures and runs all that are posted by then.
  void wait_and_run(int64_t wait_ms) {
    std::unique_lock lock(mu_);
    cv_.wait_for(lock, std::chrono::milliseconds(wait_ms), [&] { return !pending_.empty(); });
    lock.unlock();
    run_pending();
  }

  void run_pending() {
    std::deque<std::function<void()>> batch;
    {
      std::lock_guard lock(mu_);
      batch.swap(pending_);
    }
    for (auto& fn : batch) fn();
  }

  void close() {
    std::lock_guard lock(mu_);
    closed_ = true;
  }

 private:
  std::mutex mu_;
  std::condition_variable cv_;
  std::deque<std::function<void()>> pending_;
  bool closed_ = false;
};

}  // namespace kappa
