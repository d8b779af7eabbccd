// One thread for the few block-device operations that have no io_uring
// opcode on the kernels we support (BLKDISCARD): they run here, in order,
// instead of stalling a reactor, and their completion is posted back to the
// reactor that submitted them. Shared by the devices of one backend; the
// thread starts with the first job.
#pragma once

#include <condition_variable>
#include <deque>
#include <functional>
#include <mutex>
#include <thread>

namespace nvmfd::plugins::uring {

class BlockingWorker {
public:
    BlockingWorker() = default;
    ~BlockingWorker();
    BlockingWorker(const BlockingWorker&) = delete;
    BlockingWorker& operator=(const BlockingWorker&) = delete;

    // Any thread.
    void run(std::function<void()> job);

private:
    void loop();

    std::mutex mutex_;
    std::condition_variable wake_;
    std::deque<std::function<void()>> jobs_;
    bool stopping_ = false;
    std::thread thread_;
};

}  // namespace nvmfd::plugins::uring
