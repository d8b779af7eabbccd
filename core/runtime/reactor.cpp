#include "core/runtime/reactor.hpp"

#include <algorithm>
#include <cerrno>
#include <cstring>
#include <future>
#include <pthread.h>
#include <sched.h>
#include <stdexcept>
#include <sys/epoll.h>
#include <sys/eventfd.h>
#include <unistd.h>

#include "core/runtime/log.hpp"

namespace nvmfd::runtime {
namespace {

thread_local Reactor* t_current = nullptr;

// The wakeup eventfd is registered with this marker instead of a handler.
FdHandler* const kWakeupMarker = nullptr;

}  // namespace

Reactor::Reactor(unsigned id, const ReactorOptions& options)
    : id_(id), options_(options), buffers_(options.buffer_pool_bytes) {
    epfd_ = ::epoll_create1(EPOLL_CLOEXEC);
    wakeup_fd_ = ::eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC);
    if (epfd_ < 0 || wakeup_fd_ < 0) throw std::runtime_error(fmt::format("reactor {}: {}", id, std::strerror(errno)));
    epoll_event ev{};
    ev.events = EPOLLIN;
    ev.data.ptr = kWakeupMarker;
    ::epoll_ctl(epfd_, EPOLL_CTL_ADD, wakeup_fd_, &ev);
}

Reactor::~Reactor() {
    stop();
    join();
    locals_.clear();
    if (wakeup_fd_ >= 0) ::close(wakeup_fd_);
    if (epfd_ >= 0) ::close(epfd_);
}

Reactor* Reactor::current() { return t_current; }

void Reactor::post(std::function<void()> message) {
    {
        std::lock_guard lock(messages_mutex_);
        messages_.push_back(std::move(message));
    }
    uint64_t one = 1;
    [[maybe_unused]] ssize_t n = ::write(wakeup_fd_, &one, sizeof one);
}

void Reactor::start() {
    thread_ = std::thread([this] {
        std::string name = fmt::format("reactor-{}", id_);
        ::pthread_setname_np(::pthread_self(), name.c_str());
        if (options_.cpu >= 0) {
            cpu_set_t set;
            CPU_ZERO(&set);
            CPU_SET(options_.cpu, &set);
            if (::pthread_setaffinity_np(::pthread_self(), sizeof set, &set) != 0)
                log::warn("reactor {}: cannot pin to CPU {}", id_, options_.cpu);
        }
        run();
    });
}

void Reactor::stop() {
    stopping_.store(true);
    uint64_t one = 1;
    [[maybe_unused]] ssize_t n = ::write(wakeup_fd_, &one, sizeof one);
}

void Reactor::join() {
    if (thread_.joinable()) thread_.join();
}

void Reactor::add_fd(int fd, uint32_t events, FdHandler& handler) {
    epoll_event ev{};
    ev.events = events;
    ev.data.ptr = &handler;
    if (::epoll_ctl(epfd_, EPOLL_CTL_ADD, fd, &ev) != 0)
        throw std::runtime_error(fmt::format("epoll add fd {}: {}", fd, std::strerror(errno)));
}

void Reactor::modify_fd(int fd, uint32_t events, FdHandler& handler) {
    epoll_event ev{};
    ev.events = events;
    ev.data.ptr = &handler;
    ::epoll_ctl(epfd_, EPOLL_CTL_MOD, fd, &ev);
}

void Reactor::remove_fd(int fd) { ::epoll_ctl(epfd_, EPOLL_CTL_DEL, fd, nullptr); }

Reactor::TimerId Reactor::add_timer(Clock::duration after, std::function<void()> fn) {
    TimerId id = next_timer_id_++;
    auto it = timers_.emplace(Clock::now() + after, Timer{id, std::move(fn)});
    timer_index_.emplace(id, it);
    return id;
}

void Reactor::cancel_timer(TimerId id) {
    auto it = timer_index_.find(id);
    if (it == timer_index_.end()) return;
    timers_.erase(it->second);
    timer_index_.erase(it);
}

Deferred::~Deferred() {
    if (queued_on_) queued_on_->unqueue_deferred(*this);
}

void Reactor::defer(Deferred& work) {
    if (work.queued_on_) return;
    work.queued_on_ = this;
    deferred_.push_back(&work);
}

// Owning thread only, like defer(). The slot is blanked rather than erased:
// run_deferred may be iterating over deferred_running_ right now.
void Reactor::unqueue_deferred(Deferred& work) {
    std::replace(deferred_.begin(), deferred_.end(), &work, static_cast<Deferred*>(nullptr));
    std::replace(deferred_running_.begin(), deferred_running_.end(), &work, static_cast<Deferred*>(nullptr));
    work.queued_on_ = nullptr;
}

void Reactor::add_poller(Poller& p) { pollers_.push_back(&p); }

void Reactor::remove_poller(Poller& p) { std::erase(pollers_, &p); }

ReactorLocal* Reactor::local(const std::string& key) const {
    auto it = locals_.find(key);
    return it == locals_.end() ? nullptr : it->second.get();
}

void Reactor::set_local(const std::string& key, std::unique_ptr<ReactorLocal> value) { locals_[key] = std::move(value); }

int Reactor::next_timeout_ms() const {
    if (!deferred_.empty()) return 0;
    if (timers_.empty()) return 1000;
    auto wait = timers_.begin()->first - Clock::now();
    auto ms = std::chrono::ceil<std::chrono::milliseconds>(wait).count();
    return ms <= 0 ? 0 : static_cast<int>(std::min<int64_t>(ms, 1000));
}

void Reactor::run_messages() {
    std::vector<std::function<void()>> batch;
    {
        std::lock_guard lock(messages_mutex_);
        batch.swap(messages_);
    }
    for (auto& m : batch) m();
}

void Reactor::run_timers() {
    auto now = Clock::now();
    while (!timers_.empty() && timers_.begin()->first <= now) {
        auto it = timers_.begin();
        auto fn = std::move(it->second.fn);
        timer_index_.erase(it->second.id);
        timers_.erase(it);
        fn();
    }
}

bool Reactor::run_pollers() {
    bool busy = false;
    // Index loop: a poller may add or remove pollers while running.
    for (size_t i = 0; i < pollers_.size(); ++i) busy |= pollers_[i]->poll();
    return busy;
}

bool Reactor::prepare_pollers_for_sleep() {
    bool work = false;
    // Ask every poller even after one found work, so that the order in which
    // they were added never decides which get armed.
    for (size_t i = 0; i < pollers_.size(); ++i) work |= pollers_[i]->before_sleep();
    return work;
}

void Reactor::run_deferred() {
    // Work deferred while running deferred work runs in the same turn.
    while (!deferred_.empty()) {
        deferred_running_.swap(deferred_);
        // Index loop: work may destroy other queued work (unqueue_deferred).
        for (size_t i = 0; i < deferred_running_.size(); ++i) {
            Deferred* d = deferred_running_[i];
            if (!d) continue;
            d->queued_on_ = nullptr;
            d->run_deferred();
        }
        deferred_running_.clear();
    }
}

void Reactor::run() {
    t_current = this;
    constexpr int kMaxEvents = 128;
    epoll_event events[kMaxEvents];
    bool pollers_busy = false;
    Clock::time_point last_work = Clock::now();
    const bool windowed = options_.poll_window.count() > 0;
    while (!stopping_.load(std::memory_order_relaxed)) {
        bool spin = options_.busy_poll || pollers_busy ||
                    (windowed && Clock::now() - last_work < options_.poll_window);
        int timeout = spin ? 0 : next_timeout_ms();
        if (timeout != 0 && prepare_pollers_for_sleep()) timeout = 0;
        int n = ::epoll_wait(epfd_, events, kMaxEvents, timeout);
        if (windowed && n > 0) last_work = Clock::now();
        if (n < 0 && errno != EINTR) {
            log::error("reactor {}: epoll_wait: {}", id_, std::strerror(errno));
            break;
        }
        bool have_messages = false;
        for (int i = 0; i < n; ++i) {
            auto* handler = static_cast<FdHandler*>(events[i].data.ptr);
            if (handler == kWakeupMarker) {
                uint64_t v;
                [[maybe_unused]] ssize_t r = ::read(wakeup_fd_, &v, sizeof v);
                have_messages = true;
            } else {
                handler->on_fd_event(events[i].events);
            }
        }
        if (have_messages) run_messages();
        if (!timers_.empty()) run_timers();
        pollers_busy = run_pollers();
        if (windowed && pollers_busy) last_work = Clock::now();
        run_deferred();
    }
    // Drain messages so that senders waiting on a reply are not left hanging.
    run_messages();
    t_current = nullptr;
}

ReactorGroup::ReactorGroup(unsigned count, const ReactorOptions& options, const std::vector<int>& cpus) {
    if (count == 0) count = 1;
    for (unsigned i = 0; i < count; ++i) {
        ReactorOptions o = options;
        if (i < cpus.size()) o.cpu = cpus[i];
        reactors_.push_back(std::make_unique<Reactor>(i, o));
    }
}

ReactorGroup::~ReactorGroup() { stop(); }

Reactor& ReactorGroup::least_loaded() {
    // Ties go round-robin so that equal connections spread across reactors.
    unsigned start = round_robin_.fetch_add(1, std::memory_order_relaxed);
    Reactor* best = nullptr;
    for (unsigned k = 0; k < reactors_.size(); ++k) {
        Reactor& r = *reactors_[(start + k) % reactors_.size()];
        if (!best || r.load() < best->load()) best = &r;
    }
    return *best;
}

void ReactorGroup::start() {
    for (auto& r : reactors_) r->start();
}

void ReactorGroup::stop() {
    for (auto& r : reactors_) r->stop();
    for (auto& r : reactors_) r->join();
}

void Reactor::run_and_wait(const std::function<void()>& fn) {
    std::promise<void> done;
    post([&] {
        fn();
        done.set_value();
    });
    done.get_future().get();
}

void ReactorGroup::run_on_all(const std::function<void(Reactor&)>& fn) {
    std::vector<std::future<void>> done;
    for (auto& r : reactors_) {
        auto p = std::make_shared<std::promise<void>>();
        done.push_back(p->get_future());
        Reactor* rp = r.get();
        rp->post([p, rp, &fn] {
            fn(*rp);
            p->set_value();
        });
    }
    for (auto& f : done) f.get();
}

void ReactorGroup::post_to_all(const std::function<void(Reactor&)>& fn) {
    for (auto& r : reactors_) {
        Reactor* rp = r.get();
        rp->post([rp, fn] { fn(*rp); });
    }
}

}  // namespace nvmfd::runtime
