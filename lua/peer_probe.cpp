#include "lua/peer_probe.hpp"

// Boost 1.74's awaitable.hpp uses std::exchange without including <utility>.
#include <utility>

// GCC 12 pairs Boost 1.74's coroutine frame operator new and delete wrongly
// (a false -Wmismatched-new-delete at every coroutine of this file).
#pragma GCC diagnostic ignored "-Wmismatched-new-delete"

#include <array>
#include <cstring>
#include <memory>
#include <span>
#include <vector>

#include <boost/asio/co_spawn.hpp>
#include <boost/asio/connect.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/read.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <boost/asio/write.hpp>
#include <fmt/format.h>

#include "core/proto/fabrics.hpp"
#include "core/proto/status.hpp"
#include "core/proto/tcp_pdu.hpp"
#include "tools/host/commands.hpp"
#include "tools/host/pdu_build.hpp"

namespace nvmfd::lua {
namespace asio = boost::asio;
using asio::ip::tcp;
using namespace std::chrono_literals;

std::optional<ProbeKind> parse_probe_kind(std::string_view s) {
    if (s == "tcp") return ProbeKind::Tcp;
    if (s == "discovery") return ProbeKind::Discovery;
    if (s == "ana") return ProbeKind::Ana;
    return std::nullopt;
}

const char* probe_kind_name(ProbeKind k) {
    switch (k) {
    case ProbeKind::Tcp: return "tcp";
    case ProbeKind::Discovery: return "discovery";
    case ProbeKind::Ana: return "ana";
    }
    return "?";
}

namespace {

constexpr uint32_t kCcEnable = 1u, kCcIosqes = 6u << 16, kCcIocqes = 4u << 20;  // 64-byte SQEs, 16-byte CQEs
constexpr uint32_t kCstsReady = 1u;
constexpr uint8_t kPsdtSgl = 0x40;
constexpr uint32_t kProbeKatoMs = 10000;  // the probe is gone long before
constexpr size_t kMaxPdu = 64 * 1024;
constexpr uint32_t kAnaLogBytes =
    sizeof(proto::AnaLogHeader) + 128 * sizeof(proto::AnaGroupDescriptor);  // groups only (RGO), up to ANAGRPMAX

// A failed step: the message says which step and why.
struct ProbeFailure {
    std::string message;
};

// How long a kept connection may sit unused before the next probe opens a
// new one: well inside the KATO the probe asked for.
constexpr auto kSessionMaxIdle = std::chrono::milliseconds(kProbeKatoMs / 2);

std::string session_key(const ProbeTarget& t) {
    return fmt::format("{} {} {} {} {}", probe_kind_name(t.kind), t.address, t.port, t.subsystem, t.hostnqn);
}

}  // namespace

struct ProbeSessions::Session {
    explicit Session(asio::io_context& io) : socket(io) {}
    tcp::socket socket;
    uint16_t cid = 0;
    std::chrono::steady_clock::time_point last_used;
};

ProbeSessions::ProbeSessions() = default;
ProbeSessions::~ProbeSessions() { close_all(); }

void ProbeSessions::close_all() {
    for (auto& [key, s] : idle_) {
        boost::system::error_code ignored;
        s->socket.close(ignored);
    }
    idle_.clear();
}

size_t ProbeSessions::idle() const { return idle_.size(); }

std::shared_ptr<ProbeSessions::Session> ProbeSessions::take(const std::string& key) {
    auto it = idle_.find(key);
    if (it == idle_.end()) return nullptr;
    auto s = std::move(it->second);
    idle_.erase(it);
    if (std::chrono::steady_clock::now() - s->last_used > kSessionMaxIdle) return nullptr;  // the peer may have dropped it
    return s;
}

void ProbeSessions::give_back(const std::string& key, std::shared_ptr<Session> s) {
    s->last_used = std::chrono::steady_clock::now();
    idle_[key] = std::move(s);
}

namespace {

class Probe : public std::enable_shared_from_this<Probe> {
public:
    Probe(asio::io_context& io, ProbeTarget target, std::shared_ptr<ProbeSessions> sessions,
          std::function<void(ProbeResult)> done)
        : io_(io), target_(std::move(target)), sessions_(std::move(sessions)), done_(std::move(done)), deadline_(io) {}

    void start() {
        started_ = std::chrono::steady_clock::now();
        deadline_.expires_after(target_.timeout);
        deadline_.async_wait([self = shared_from_this()](const boost::system::error_code& ec) {
            if (ec) return;
            self->timed_out_ = true;
            if (self->session_) {
                boost::system::error_code ignored;
                self->session_->socket.close(ignored);  // whatever waits fails now
            }
        });
        asio::co_spawn(io_, run(), [self = shared_from_this()](std::exception_ptr e) { self->finish(e); });
    }

private:
    asio::awaitable<void> run() {
        bool keep = sessions_ && target_.kind != ProbeKind::Tcp;
        std::string key = keep ? session_key(target_) : std::string();
        if (keep) {
            if (auto s = sessions_->take(key)) {
                session_ = std::move(s);
                try {
                    co_await exchange();
                    sessions_->give_back(key, std::move(session_));
                    co_return;
                } catch (const std::exception&) {
                    if (timed_out_) throw;
                    // The kept connection is stale (the peer restarted, or
                    // dropped it): try a fresh one in the time left.
                    result_.ana.clear();
                }
            }
        }
        session_ = std::make_shared<ProbeSessions::Session>(io_);
        co_await open();
        if (target_.kind == ProbeKind::Tcp) co_return;
        co_await exchange();
        if (keep) sessions_->give_back(key, std::move(session_));
    }

    // TCP connect, then for NVMe probes ICReq, Connect and CC.EN.
    asio::awaitable<void> open() {
        step_ = "resolve";
        tcp::resolver resolver(io_);
        auto endpoints = co_await resolver.async_resolve(target_.address, target_.port, asio::use_awaitable);
        if (timed_out_) throw ProbeFailure{"timed out"};
        step_ = "connect";
        co_await asio::async_connect(session_->socket, endpoints, asio::use_awaitable);
        session_->socket.set_option(tcp::no_delay(true));
        if (target_.kind == ProbeKind::Tcp) co_return;

        step_ = "ICReq";
        co_await send(host::pdu::icreq_bytes(host::TransportOptions{}));
        auto icresp = co_await receive();
        expect_type(icresp, proto::tcp::PduType::ICResp);

        bool discovery = target_.kind == ProbeKind::Discovery;
        step_ = "Connect";
        auto connect = host::cmd::connect({.qid = 0, .sqsize = 31, .kato_ms = kProbeKatoMs});
        auto data = host::cmd::connect_data(
            std::array<uint8_t, 16>{}, proto::kDynamicControllerId,
            discovery ? std::string_view(proto::kDiscoveryNqn) : std::string_view(target_.subsystem),
            target_.hostnqn);
        co_await command(connect, host::pdu::as_bytes_of(data), 0);

        // Admin commands, Keep Alive included, need an enabled controller.
        step_ = "enable (CC.EN)";
        co_await command(host::cmd::property_set(proto::property::kCc, kCcIosqes | kCcIocqes | kCcEnable,
                                                 host::cmd::PropertySize::Four),
                         {}, 0);
        step_ = "wait for CSTS.RDY";
        for (;;) {
            auto cqe = co_await command(
                host::cmd::property_get(proto::property::kCsts, host::cmd::PropertySize::Four), {}, 0);
            if (cqe.dw0 & kCstsReady) break;
            asio::steady_timer pause(io_, 10ms);
            co_await pause.async_wait(asio::use_awaitable);
        }
    }

    // What each probe asks of an open admin connection.
    asio::awaitable<void> exchange() {
        if (target_.kind == ProbeKind::Ana) {
            step_ = "Get Log Page (ANA)";
            std::vector<std::byte> page(kAnaLogBytes);
            co_await command(host::cmd::get_log_page(uint8_t(proto::LogPageId::AsymmetricNamespaceAccess),
                                                     kAnaLogBytes, 0, proto::kBroadcastNsid,
                                                     proto::kAnaLogReturnGroupsOnly),
                             {}, kAnaLogBytes, page);
            parse_ana(page);
        }
        step_ = "Keep Alive";
        co_await command(host::cmd::keep_alive(), {}, 0);
    }

    asio::awaitable<void> send(std::span<const std::byte> bytes) {
        co_await asio::async_write(session_->socket, asio::buffer(bytes.data(), bytes.size()), asio::use_awaitable);
    }

    asio::awaitable<std::vector<std::byte>> receive() {
        std::vector<std::byte> pdu(sizeof(proto::tcp::CommonHeader));
        co_await asio::async_read(session_->socket, asio::buffer(pdu), asio::use_awaitable);
        proto::tcp::CommonHeader ch;
        std::memcpy(&ch, pdu.data(), sizeof ch);
        if (ch.plen < sizeof ch || ch.plen > kMaxPdu)
            throw ProbeFailure{fmt::format("the peer sent a PDU of {} bytes", ch.plen)};
        pdu.resize(ch.plen);
        co_await asio::async_read(session_->socket, asio::buffer(pdu.data() + sizeof ch, ch.plen - sizeof ch),
                                  asio::use_awaitable);
        if (ch.type == proto::tcp::PduType::C2HTermReq)
            throw ProbeFailure{"the peer ended the connection (C2HTermReq)"};
        co_return pdu;
    }

    static void expect_type(const std::vector<std::byte>& pdu, proto::tcp::PduType type) {
        auto got = static_cast<proto::tcp::PduType>(pdu[0]);
        if (got != type) throw ProbeFailure{fmt::format("unexpected PDU type {:#x}", uint8_t(got))};
    }

    // Sends one admin command (data in capsule, or `read_length` bytes to
    // read into `into`) and waits for its completion; a failed status throws.
    asio::awaitable<proto::Cqe> command(proto::Sqe sqe, std::span<const std::byte> in_capsule, uint32_t read_length,
                                        std::span<std::byte> into = {}) {
        sqe.cid = ++session_->cid;
        sqe.flags = static_cast<uint8_t>((sqe.flags & 0x3f) | kPsdtSgl);
        sqe.sgl = proto::SglDescriptor{};
        sqe.sgl.type = read_length ? proto::sgl::kTransport : proto::sgl::kInCapsule;
        sqe.sgl.length = read_length ? read_length : static_cast<uint32_t>(in_capsule.size());
        co_await send(host::pdu::capsule_bytes(sqe, in_capsule, host::TransportParams{}));
        uint32_t received = 0;
        for (;;) {
            auto pdu = co_await receive();
            auto type = static_cast<proto::tcp::PduType>(pdu[0]);
            if (type == proto::tcp::PduType::C2HData) {
                proto::tcp::DataPdu h;
                if (pdu.size() < sizeof h) throw ProbeFailure{"short C2HData PDU"};
                std::memcpy(&h, pdu.data(), sizeof h);
                if (h.cccid != sqe.cid) throw ProbeFailure{"C2HData for another command"};
                if (h.ch.pdo < sizeof h || uint64_t(h.ch.pdo) + h.datal > pdu.size() ||
                    uint64_t(h.datao) + h.datal > into.size())
                    throw ProbeFailure{"C2HData outside the command's buffer"};
                std::memcpy(into.data() + h.datao, pdu.data() + h.ch.pdo, h.datal);
                received += h.datal;
                if (h.ch.flags & proto::tcp::flags::kSuccess) co_return proto::Cqe{};
                continue;
            }
            expect_type(pdu, proto::tcp::PduType::CapsuleResp);
            proto::tcp::CapsuleResp resp;
            if (pdu.size() < sizeof resp) throw ProbeFailure{"short CapsuleResp PDU"};
            std::memcpy(&resp, pdu.data(), sizeof resp);
            if (resp.cqe.cid != sqe.cid) throw ProbeFailure{"a completion for another command"};
            auto status = proto::Status::from_cqe(resp.cqe.status);
            if (!status.ok())
                throw ProbeFailure{fmt::format("status {:#06x} ({})", status.value, proto::status_name(status))};
            if (read_length && received < read_length) std::fill(into.begin() + received, into.end(), std::byte{0});
            co_return resp.cqe;
        }
    }

    void parse_ana(std::span<const std::byte> page) {
        proto::AnaLogHeader hdr;
        std::memcpy(&hdr, page.data(), sizeof hdr);
        result_.ana_change_count = hdr.change_count;
        size_t at = sizeof hdr;
        for (uint16_t i = 0; i < hdr.group_count && at + sizeof(proto::AnaGroupDescriptor) <= page.size(); ++i) {
            proto::AnaGroupDescriptor d;
            std::memcpy(&d, page.data() + at, sizeof d);
            result_.ana[d.group_id] = static_cast<proto::AnaState>(d.state & 0x0f);
            at += sizeof d + size_t(d.nsid_count) * sizeof(uint32_t);
        }
    }

    void finish(std::exception_ptr e) {
        deadline_.cancel();
        if (session_) {  // not kept: a Tcp probe, or a failure
            boost::system::error_code ignored;
            session_->socket.close(ignored);
        }
        result_.elapsed =
            std::chrono::duration_cast<std::chrono::microseconds>(std::chrono::steady_clock::now() - started_);
        result_.ok = !e;
        if (e) {
            std::string why;
            try {
                std::rethrow_exception(e);
            } catch (const ProbeFailure& f) {
                why = f.message;
            } catch (const boost::system::system_error& se) {
                why = se.code().message();
            } catch (const std::exception& ex) {
                why = ex.what();
            }
            result_.error = timed_out_ ? fmt::format("timed out after {} ms ({})", target_.timeout.count(), step_)
                                       : fmt::format("{}: {}", step_, why);
            result_.ana.clear();
        }
        auto done = std::move(done_);
        done(std::move(result_));
    }

    asio::io_context& io_;
    ProbeTarget target_;
    std::shared_ptr<ProbeSessions> sessions_;
    std::function<void(ProbeResult)> done_;
    std::shared_ptr<ProbeSessions::Session> session_;
    asio::steady_timer deadline_;
    std::chrono::steady_clock::time_point started_;
    bool timed_out_ = false;
    const char* step_ = "start";
    ProbeResult result_;
};

}  // namespace

void start_probe(asio::io_context& io, ProbeTarget target, std::shared_ptr<ProbeSessions> sessions,
                 std::function<void(ProbeResult)> done) {
    std::make_shared<Probe>(io, std::move(target), std::move(sessions), std::move(done))->start();
}

}  // namespace nvmfd::lua
