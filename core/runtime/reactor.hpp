// A reactor is one thread running one event loop, SPDK-style: it owns the
// connections (queue pairs) and backend queues assigned to it and runs their
// work to completion. Other threads never touch what a reactor owns; they
// post() messages to it instead.
//
// Each loop turn: wait for fd events (epoll; or spin when busy polling;
// pollers arm their wakeups first when the wait may block), dispatch them,
// run due timers and cross-thread messages, run pollers (e.g. an io_uring
// completion reaper) and finally the deferred work queued during the turn
// (e.g. flushing a connection's batched sends).
#pragma once

#include <atomic>
#include <chrono>
#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

#include "core/runtime/buffer_pool.hpp"

namespace nvmfd::runtime {

using Clock = std::chrono::steady_clock;

class FdHandler {
public:
    virtual void on_fd_event(uint32_t epoll_events) = 0;
protected:
    ~FdHandler() = default;
};

class Reactor;

// Work that runs once at the end of the current loop turn. Re-arming while
// queued is a no-op, so a connection can ask to be flushed once per turn no
// matter how many responses it queued. Destroying queued work unqueues it:
// a connection deleted in the turn it asked to be flushed is not run.
class Deferred {
public:
    virtual void run_deferred() = 0;
    bool deferred_queued() const { return queued_on_ != nullptr; }
protected:
    ~Deferred();
private:
    friend class Reactor;
    Reactor* queued_on_ = nullptr;
};

// Called every loop turn; returns true if it did work (the reactor then
// does not sleep on the next turn).
class Poller {
public:
    virtual bool poll() = 0;
    // The reactor is about to block in epoll_wait: arm the wakeup whose fd
    // is in the reactor's set (e.g. request a completion queue's next
    // notification) and return true if work appeared meanwhile, which keeps
    // the reactor from blocking this turn. Never called while the reactor
    // keeps polling (busy polling, its poll window, a busy poller): a poller
    // can leave its wakeup disarmed while it is polled anyway.
    virtual bool before_sleep() { return false; }
protected:
    ~Poller() = default;
};

// Per-reactor state that plugins attach (e.g. an io_uring ring).
class ReactorLocal {
public:
    virtual ~ReactorLocal() = default;
};

struct ReactorOptions {
    size_t buffer_pool_bytes = 64u << 20;
    bool busy_poll = false;  // spin instead of sleeping in epoll_wait: lowest latency, burns a core
    // After a loop turn that did work, keep polling (without sleeping) for
    // this long before blocking: the next command of a busy connection
    // usually arrives within it, and waking a sleeping thread is costly.
    // An idle reactor still sleeps. 0 disables.
    std::chrono::microseconds poll_window{0};
    int cpu = -1;            // pin to this CPU when >= 0
};

class Reactor {
public:
    using TimerId = uint64_t;

    Reactor(unsigned id, const ReactorOptions& options);
    ~Reactor();
    Reactor(const Reactor&) = delete;
    Reactor& operator=(const Reactor&) = delete;

    unsigned id() const { return id_; }
    // Spinning instead of sleeping (ReactorOptions::busy_poll): a backend
    // then leaves its device's interrupts off and relies on its poller.
    bool busy_polling() const { return options_.busy_poll; }
    static Reactor* current();  // the reactor running on this thread, if any
    bool on_this_thread() const { return current() == this; }

    // Any thread.
    void post(std::function<void()> message);
    // Post fn and wait until it has run (another thread only: the reactor's
    // own would wait for itself).
    void run_and_wait(const std::function<void()>& fn);
    void start();  // spawn the thread
    void stop();   // ask the loop to end after this turn
    void join();

    // Owning thread only.
    void add_fd(int fd, uint32_t events, FdHandler& handler);
    void modify_fd(int fd, uint32_t events, FdHandler& handler);
    void remove_fd(int fd);
    TimerId add_timer(Clock::duration after, std::function<void()> fn);
    void cancel_timer(TimerId id);
    void defer(Deferred& work);
    void add_poller(Poller& p);
    void remove_poller(Poller& p);
    BufferPool& buffers() { return buffers_; }
    ReactorLocal* local(const std::string& key) const;
    void set_local(const std::string& key, std::unique_ptr<ReactorLocal> value);

    // Connection count, read by the acceptor to balance new connections.
    void adjust_load(int delta) { load_.fetch_add(delta, std::memory_order_relaxed); }
    int load() const { return load_.load(std::memory_order_relaxed); }

    void run();  // the loop; run() on the calling thread if start() is not used

private:
    void run_messages();
    void run_timers();
    bool run_pollers();
    bool prepare_pollers_for_sleep();
    void run_deferred();
    friend class Deferred;  // its destructor unqueues it
    void unqueue_deferred(Deferred& work);
    int next_timeout_ms() const;

    const unsigned id_;
    const ReactorOptions options_;
    int epfd_ = -1;
    int wakeup_fd_ = -1;
    std::atomic<bool> stopping_{false};
    std::atomic<int> load_{0};
    std::thread thread_;
    BufferPool buffers_;

    std::mutex messages_mutex_;
    std::vector<std::function<void()>> messages_;

    struct Timer {
        TimerId id;
        std::function<void()> fn;
    };
    std::multimap<Clock::time_point, Timer> timers_;
    std::map<TimerId, std::multimap<Clock::time_point, Timer>::iterator> timer_index_;
    TimerId next_timer_id_ = 1;

    std::vector<Poller*> pollers_;
    std::vector<Deferred*> deferred_;
    std::vector<Deferred*> deferred_running_;
    std::map<std::string, std::unique_ptr<ReactorLocal>> locals_;
};

// The fixed set of reactors the daemon runs.
class ReactorGroup {
public:
    // cpus[i], when given, pins reactor i.
    ReactorGroup(unsigned count, const ReactorOptions& options, const std::vector<int>& cpus = {});
    ~ReactorGroup();
    unsigned size() const { return static_cast<unsigned>(reactors_.size()); }
    Reactor& at(unsigned i) { return *reactors_.at(i); }
    Reactor& least_loaded();
    void start();
    void stop();
    // Run fn on every reactor and wait until all have run it.
    void run_on_all(const std::function<void(Reactor&)>& fn);
    // Post fn to every reactor without waiting (a reactor thread may call it).
    void post_to_all(const std::function<void(Reactor&)>& fn);

private:
    std::vector<std::unique_ptr<Reactor>> reactors_;
    std::atomic<unsigned> round_robin_{0};
};

}  // namespace nvmfd::runtime
