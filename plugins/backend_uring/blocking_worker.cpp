#include "plugins/backend_uring/blocking_worker.hpp"

#include <pthread.h>

namespace nvmfd::plugins::uring {

BlockingWorker::~BlockingWorker() {
    {
        std::lock_guard lock(mutex_);
        stopping_ = true;
    }
    wake_.notify_all();
    // Jobs own nothing (see ChannelState::discard_on_worker), so the last
    // owner never lets go on the worker thread itself.
    if (thread_.joinable()) thread_.join();
}

void BlockingWorker::run(std::function<void()> job) {
    {
        std::lock_guard lock(mutex_);
        jobs_.push_back(std::move(job));
        if (!thread_.joinable()) thread_ = std::thread([this] { loop(); });
    }
    wake_.notify_one();
}

void BlockingWorker::loop() {
    ::pthread_setname_np(::pthread_self(), "uring-blocking");
    std::unique_lock lock(mutex_);
    for (;;) {
        wake_.wait(lock, [this] { return stopping_ || !jobs_.empty(); });
        // Jobs queued before the stop still run: their submitters wait for them.
        if (jobs_.empty()) return;
        auto job = std::move(jobs_.front());
        jobs_.pop_front();
        lock.unlock();
        job();
        lock.lock();
    }
}

}  // namespace nvmfd::plugins::uring
