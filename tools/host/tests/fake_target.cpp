#include "tools/host/tests/fake_target.hpp"

#include <algorithm>
#include <arpa/inet.h>
#include <bit>
#include <cerrno>
#include <cstring>
#include <fmt/format.h>
#include <map>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <span>
#include <stdexcept>
#include <sys/socket.h>
#include <unistd.h>
#include <unordered_map>

#include "core/proto/crc32c.hpp"
#include "core/proto/fabrics.hpp"
#include "core/proto/identify.hpp"
#include "core/proto/log_pages.hpp"
#include "core/proto/nvme.hpp"
#include "core/proto/status.hpp"
#include "core/proto/tcp_pdu.hpp"

namespace nvmfd::host::testing {

using namespace proto::tcp;
using proto::Status;
namespace st = proto::status;

struct FakeTarget::Shared {
    FakeTargetOptions options;
    std::atomic<bool>* stopping = nullptr;
    std::atomic<uint64_t>* commands = nullptr;
    std::vector<std::byte> disk;
    std::atomic<bool> fault_fired{false};

    struct Controller {
        uint32_t cc = 0;
        uint32_t csts = 0;
        bool discovery = false;
        uint32_t queues = 0;
    };
    std::mutex mutex;  // everything below
    std::map<uint16_t, Controller> controllers;
    uint16_t next_cntlid = 1;
    std::vector<std::string> violations;
    std::vector<uint32_t> io_queue_sizes;  // entries (SQSIZE + 1) of each I/O queue Connect accepted
    std::vector<std::thread> sessions;
    std::vector<int> fds;

    void violation(std::string text) {
        std::lock_guard lock(mutex);
        violations.push_back(std::move(text));
    }
};

namespace {

constexpr uint32_t align_up(uint32_t v, uint32_t a) { return (v + a - 1) / a * a; }

template <typename T>
T load(const std::byte* p) {
    T v;
    std::memcpy(&v, p, sizeof v);
    return v;
}

struct Closed {};  // unwinds a session

class Session {
public:
    Session(FakeTarget::Shared& shared, int fd) : s_(shared), o_(shared.options), fd_(fd) { in_.resize(1 << 20); }

    void run() {
        try {
            handshake();
            for (;;) {
                std::span<const std::byte> pdu;
                while (next_pdu(pdu)) handle(pdu);
                flush();
                fill();
            }
        } catch (const Closed&) {
        }
        std::lock_guard lock(s_.mutex);
        ::close(fd_);
        std::erase(s_.fds, fd_);
    }

private:
    // --- byte stream -------------------------------------------------------
    void fill() {
        if (in_begin_ == in_end_) in_begin_ = in_end_ = 0;
        if (in_.size() - in_end_ < 64 * 1024) {
            std::memmove(in_.data(), in_.data() + in_begin_, in_end_ - in_begin_);
            in_end_ -= in_begin_;
            in_begin_ = 0;
        }
        for (;;) {
            if (s_.stopping->load()) throw Closed{};
            pollfd p{fd_, POLLIN, 0};
            int rc = ::poll(&p, 1, 100);
            if (rc == 0) continue;
            ssize_t n = ::recv(fd_, in_.data() + in_end_, in_.size() - in_end_, 0);
            if (n > 0) {
                in_end_ += static_cast<size_t>(n);
                return;
            }
            if (n < 0 && (errno == EINTR || errno == EAGAIN)) continue;
            throw Closed{};
        }
    }

    bool next_pdu(std::span<const std::byte>& pdu) {
        size_t available = in_end_ - in_begin_;
        if (available < sizeof(CommonHeader)) return false;
        auto ch = load<CommonHeader>(in_.data() + in_begin_);
        if (ch.plen < sizeof(CommonHeader) || ch.plen > in_.size() / 2)
            terminate(TermFes::InvalidHeaderField, 4, fmt::format("PLEN {} from host", ch.plen));
        if (available < ch.plen) {
            if (in_.size() - in_begin_ < ch.plen) {  // make room for a whole PDU
                std::memmove(in_.data(), in_.data() + in_begin_, available);
                in_begin_ = 0;
                in_end_ = available;
            }
            return false;
        }
        pdu = std::span<const std::byte>(in_.data() + in_begin_, ch.plen);
        in_begin_ += ch.plen;
        return true;
    }

    void append(const void* data, size_t length) {
        auto p = static_cast<const std::byte*>(data);
        out_.insert(out_.end(), p, p + length);
    }

    void flush() {
        size_t done = 0;
        while (done < out_.size()) {
            ssize_t n = ::send(fd_, out_.data() + done, out_.size() - done, MSG_NOSIGNAL);
            if (n < 0 && errno == EINTR) continue;
            if (n <= 0) throw Closed{};
            done += static_cast<size_t>(n);
        }
        out_.clear();
    }

    [[noreturn]] void terminate(TermFes fes, uint32_t fei, const std::string& why) {
        s_.violation(why);
        TermReq t{};
        t.ch.type = PduType::C2HTermReq;
        t.ch.hlen = sizeof t;
        t.ch.plen = sizeof t;
        t.fes = static_cast<uint16_t>(fes);
        std::memcpy(t.fei, &fei, sizeof fei);
        append(&t, sizeof t);
        flush();
        throw Closed{};
    }

    // --- connection initialization ------------------------------------------
    void handshake() {
        while (in_end_ - in_begin_ < sizeof(ICReq)) fill();
        auto req = load<ICReq>(in_.data() + in_begin_);
        in_begin_ += sizeof(ICReq);
        if (req.ch.type != PduType::ICReq || req.ch.plen != sizeof(ICReq) || req.ch.hlen != sizeof(ICReq))
            terminate(TermFes::PduSequenceError, 0, "first PDU is not a well-formed ICReq");
        if (req.pfv != 0) terminate(TermFes::UnsupportedParameter, 8, "ICReq PFV not 0");
        if (req.hpda > kMaxHpda) terminate(TermFes::UnsupportedParameter, 10, "ICReq HPDA above 31");
        if (o_.fault == Fault::IcRespTermReq) terminate(TermFes::UnsupportedParameter, 10, "fault: IcRespTermReq");
        hpda_ = req.hpda;
        hdgst_ = req.dgst & kDigestHeader;
        ddgst_ = req.dgst & kDigestData;
        ICResp resp{};
        resp.ch.type = PduType::ICResp;
        resp.ch.hlen = sizeof resp;
        resp.ch.plen = sizeof resp;
        resp.cpda = o_.cpda;
        resp.dgst = req.dgst;
        resp.maxh2cdata = o_.maxh2cdata;
        if (o_.fault == Fault::IcRespSmallMaxH2CData) resp.maxh2cdata = 1024;
        if (o_.fault == Fault::IcRespExtraDigest) resp.dgst |= kDigestHeader | kDigestData;
        append(&resp, sizeof resp);
        flush();
    }

    uint32_t hd() const { return hdgst_ ? 4 : 0; }
    uint32_t dd() const { return ddgst_ ? 4 : 0; }

    // --- receiving host PDUs -----------------------------------------------
    void handle(std::span<const std::byte> pdu) {
        auto ch = load<CommonHeader>(pdu.data());
        if (ch.type == PduType::H2CTermReq) throw Closed{};
        if (ch.type != PduType::CapsuleCmd && ch.type != PduType::H2CData)
            terminate(TermFes::InvalidHeaderField, 0, fmt::format("host sent PDU type {}", int(ch.type)));
        if (ch.hlen != header_length(ch.type))
            terminate(TermFes::InvalidHeaderField, 2, fmt::format("host PDU HLEN {}", ch.hlen));
        if (bool(ch.flags & flags::kHeaderDigest) != hdgst_)
            terminate(TermFes::InvalidHeaderField, 1, "host HDGSTF does not match the negotiated header digest");
        if (ch.plen < ch.hlen + hd()) terminate(TermFes::InvalidHeaderField, 4, "host PLEN shorter than header");
        if (hdgst_) {
            uint32_t got = load<uint32_t>(pdu.data() + ch.hlen);
            if (got != proto::crc32c(pdu.data(), ch.hlen))
                terminate(TermFes::HeaderDigestError, 0, "host header digest wrong");
        }
        std::span<const std::byte> data;
        if (ch.plen > ch.hlen + hd()) {
            uint32_t align = (o_.cpda + 1u) * 4;
            if (ch.pdo < ch.hlen + hd() || ch.pdo % align != 0 || ch.pdo != align_up(ch.hlen + hd(), align))
                terminate(TermFes::InvalidHeaderField, 3,
                          fmt::format("host PDO {} for HLEN {} hd {} CPDA {}", ch.pdo, ch.hlen, hd(), o_.cpda));
            if (bool(ch.flags & flags::kDataDigest) != ddgst_)
                terminate(TermFes::InvalidHeaderField, 1, "host DDGSTF does not match the negotiated data digest");
            if (ch.plen < ch.pdo + dd()) terminate(TermFes::InvalidHeaderField, 4, "host PLEN too short for data");
            data = pdu.subspan(ch.pdo, ch.plen - ch.pdo - dd());
            if (ddgst_) {
                uint32_t got = load<uint32_t>(pdu.data() + ch.plen - 4);
                if (got != proto::crc32c(data.data(), data.size())) {
                    s_.violation("host data digest wrong");
                    data_digest_error_ = true;
                }
            }
        } else if (ch.flags & flags::kDataDigest) {
            terminate(TermFes::InvalidHeaderField, 1, "host DDGSTF set without data");
        }
        if (ch.type == PduType::CapsuleCmd) {
            auto sqe = load<proto::Sqe>(pdu.data() + sizeof(CommonHeader));
            s_.commands->fetch_add(1, std::memory_order_relaxed);
            command(sqe, data);
        } else {
            h2c_data(load<DataPdu>(pdu.data()), data);
        }
        data_digest_error_ = false;
    }

    // --- sending controller PDUs --------------------------------------------
    void respond(uint16_t cid, Status status, uint64_t result = 0, bool corrupt_digest = false) {
        CapsuleResp r{};
        r.ch.type = PduType::CapsuleResp;
        r.ch.flags = hdgst_ ? flags::kHeaderDigest : 0;
        r.ch.hlen = sizeof r;
        r.ch.plen = sizeof r + hd();
        r.cqe.result64 = result;
        r.cqe.sqid = qid_;
        r.cqe.sqhd = ++sqhd_;
        r.cqe.cid = cid;
        r.cqe.status = status.cqe_status();
        append(&r, sizeof r);
        if (hdgst_) {
            uint32_t digest = proto::crc32c(&r, sizeof r) ^ (corrupt_digest ? 1u : 0u);
            append(&digest, 4);
        }
    }

    struct C2HFaults {
        bool corrupt_header_digest = false;
        bool corrupt_data_digest = false;
        bool misaligned = false;
        bool out_of_order = false;
        bool success_without_last = false;
    };

    void c2h(uint16_t cid, std::span<const std::byte> data, bool success) { c2h(cid, data, success, C2HFaults{}); }

    void c2h(uint16_t cid, std::span<const std::byte> data, bool success, const C2HFaults& f) {
        uint32_t chunk = std::max<uint32_t>(o_.c2h_chunk, 1);
        for (uint32_t at = 0; at < data.size();) {
            uint32_t n = std::min<uint32_t>(chunk, static_cast<uint32_t>(data.size()) - at);
            bool last = at + n == data.size();
            bool first = at == 0;
            DataPdu pdu{};
            pdu.ch.type = PduType::C2HData;
            pdu.ch.flags = static_cast<uint8_t>((hdgst_ ? flags::kHeaderDigest : 0) | (ddgst_ ? flags::kDataDigest : 0) |
                                                (last ? flags::kLastPdu : 0) | (last && success ? flags::kSuccess : 0));
            if (first && f.success_without_last) pdu.ch.flags = (pdu.ch.flags | flags::kSuccess) & ~flags::kLastPdu;
            pdu.ch.hlen = sizeof pdu;
            uint32_t pdo = align_up(sizeof pdu + hd(), (hpda_ + 1u) * 4);
            if (first && f.misaligned) pdo = sizeof pdu + hd() + 2;
            pdu.ch.pdo = static_cast<uint8_t>(pdo);
            pdu.ch.plen = pdo + n + dd();
            pdu.cccid = cid;
            pdu.datao = first && f.out_of_order ? at + 512 : at;
            pdu.datal = n;
            append(&pdu, sizeof pdu);
            if (hdgst_) {
                uint32_t digest = proto::crc32c(&pdu, sizeof pdu) ^ (first && f.corrupt_header_digest ? 1u : 0u);
                append(&digest, 4);
            }
            out_.resize(out_.size() + (pdo - sizeof pdu - hd()), std::byte{0});
            append(data.data() + at, n);
            if (ddgst_) {
                uint32_t digest = proto::crc32c(data.data() + at, n) ^ (first && f.corrupt_data_digest ? 1u : 0u);
                append(&digest, 4);
            }
            at += n;
        }
    }

    void r2t(uint16_t cid, uint16_t ttag, uint32_t offset, uint32_t length) {
        R2T r{};
        r.ch.type = PduType::R2T;
        r.ch.flags = hdgst_ ? flags::kHeaderDigest : 0;
        r.ch.hlen = sizeof r;
        r.ch.plen = sizeof r + hd();
        r.cccid = cid;
        r.ttag = ttag;
        r.r2to = offset;
        r.r2tl = length;
        append(&r, sizeof r);
        if (hdgst_) {
            uint32_t digest = proto::crc32c(&r, sizeof r);
            append(&digest, 4);
        }
    }

    // --- commands -------------------------------------------------------------
    void command(const proto::Sqe& sqe, std::span<const std::byte> data) {
        if ((sqe.flags & 0xc0) != 0x40) {
            s_.violation(fmt::format("SQE flags {:#x}: PSDT must be 01b", sqe.flags));
            return respond(sqe.cid, st::kInvalidField);
        }
        bool in_capsule = sqe.sgl.type == proto::sgl::kInCapsule;
        if (in_capsule && data.size() != sqe.sgl.length) {
            s_.violation(fmt::format("in-capsule SGL length {} but {} data bytes", sqe.sgl.length, data.size()));
            return respond(sqe.cid, st::kSglLengthInvalid);
        }
        if (!in_capsule && !data.empty()) {
            s_.violation("data in a capsule whose SGL is not the in-capsule kind");
            return respond(sqe.cid, st::kSglTypeInvalid);
        }
        if (!in_capsule && sqe.sgl.type != proto::sgl::kTransport) {
            s_.violation(fmt::format("SGL type {:#x}", sqe.sgl.type));
            return respond(sqe.cid, st::kSglTypeInvalid);
        }
        if (data_digest_error_) return respond(sqe.cid, st::kDataTransferError);
        if (sqe.opcode == 0x7f) return fabrics(sqe, data);
        if (!connected_) return respond(sqe.cid, st::kCommandSequenceError);
        if (qid_ == 0) return admin(sqe, data);
        if (in_capsule && qid_ != 0 && data.size() > o_.in_capsule_bytes) {
            s_.violation(fmt::format("{} bytes in-capsule, more than the {} IOCCSZ allows", data.size(),
                                     o_.in_capsule_bytes));
            return respond(sqe.cid, st::kSglOffsetInvalid);
        }
        io(sqe, data);
    }

    FakeTarget::Shared::Controller* controller() {
        auto it = s_.controllers.find(cntlid_);
        return it == s_.controllers.end() ? nullptr : &it->second;
    }

    void fabrics(const proto::Sqe& sqe, std::span<const std::byte> data) {
        auto type = static_cast<proto::FabricsType>(sqe.fctype());
        if (type == proto::FabricsType::Connect) return connect(sqe, data);
        if (!connected_) return respond(sqe.cid, st::kCommandSequenceError);
        proto::PropertyCommand p;
        std::memcpy(&p, &sqe, sizeof p);
        std::lock_guard lock(s_.mutex);
        auto* c = controller();
        switch (type) {
        case proto::FabricsType::PropertyGet: {
            uint64_t value = 0;
            if (p.offset == proto::property::kCap) {
                // MQES, CQR, TO 1 (500 ms), CSS NVM (bit 37), MPSMIN 0, MPSMAX 0
                value = o_.mqes | (1ull << 16) | (1ull << 24) | (1ull << 37);
                if ((p.attrib & 7) != 1) return respond(sqe.cid, st::kInvalidField);
            } else if (p.offset == proto::property::kVs) {
                value = proto::nvme_version(1, 4);
            } else if (p.offset == proto::property::kCc) {
                value = c->cc;
            } else if (p.offset == proto::property::kCsts) {
                value = c->csts;
            } else {
                return respond(sqe.cid, st::kInvalidField);
            }
            return respond(sqe.cid, st::kSuccess, value);
        }
        case proto::FabricsType::PropertySet:
            if (p.offset != proto::property::kCc) return respond(sqe.cid, st::kInvalidField);
            c->cc = static_cast<uint32_t>(p.value);
            c->csts = (c->cc & proto::cc::kEnable) ? proto::csts::kReady : 0;
            if (proto::cc::shn(c->cc) != 0) c->csts |= proto::csts::kShutdownComplete;
            return respond(sqe.cid, st::kSuccess);
        case proto::FabricsType::Disconnect: return respond(sqe.cid, st::kSuccess);
        default: return respond(sqe.cid, st::kInvalidOpcode);
        }
    }

    void connect(const proto::Sqe& sqe, std::span<const std::byte> data) {
        proto::ConnectCommand c;
        std::memcpy(&c, &sqe, sizeof c);
        if (connected_) return respond(sqe.cid, st::kCommandSequenceError);
        if (data.size() != sizeof(proto::ConnectData)) {
            s_.violation(fmt::format("Connect with {} data bytes", data.size()));
            return respond(sqe.cid, st::kSglLengthInvalid);
        }
        auto d = load<proto::ConnectData>(data.data());
        std::string subnqn(d.subnqn, strnlen(d.subnqn, sizeof d.subnqn));
        bool discovery = subnqn == proto::kDiscoveryNqn;
        if (!discovery && subnqn != o_.subnqn)
            return respond(sqe.cid, st::kConnectInvalidParameters, proto::connect_invalid_data_field(256));
        if (c.sqsize == 0 || (c.qid != 0 && c.sqsize > o_.mqes))
            return respond(sqe.cid, st::kConnectInvalidParameters, proto::connect_invalid_sqe_field(44));
        std::lock_guard lock(s_.mutex);
        if (c.qid == 0) {
            if (d.cntlid != proto::kDynamicControllerId)
                return respond(sqe.cid, st::kConnectInvalidParameters, proto::connect_invalid_data_field(16));
            cntlid_ = s_.next_cntlid++;
            s_.controllers[cntlid_].discovery = discovery;
        } else {
            cntlid_ = d.cntlid;
            if (!controller())
                return respond(sqe.cid, st::kConnectInvalidParameters, proto::connect_invalid_data_field(16));
            s_.io_queue_sizes.push_back(uint32_t(c.sqsize) + 1);
        }
        qid_ = c.qid;
        sqflow_disabled_ = c.cattr & proto::kConnectAttrDisableSqFlowControl;
        connected_ = true;
        respond(sqe.cid, st::kSuccess, cntlid_);
    }

    void admin(const proto::Sqe& sqe, std::span<const std::byte>) {
        auto op = static_cast<proto::AdminOpcode>(sqe.opcode);
        {
            std::lock_guard lock(s_.mutex);
            auto* c = controller();
            if (!(c->csts & proto::csts::kReady)) return respond(sqe.cid, st::kCommandSequenceError);
        }
        switch (op) {
        case proto::AdminOpcode::Identify: return identify(sqe);
        case proto::AdminOpcode::GetLogPage: return log_page(sqe);
        case proto::AdminOpcode::SetFeatures:
            if ((sqe.cdw10 & 0xff) == uint8_t(proto::FeatureId::NumberOfQueues)) {
                uint32_t n = std::min<uint32_t>(sqe.cdw11 & 0xffff, 63);
                return respond(sqe.cid, st::kSuccess, n | (n << 16));
            }
            return respond(sqe.cid, st::kSuccess);
        case proto::AdminOpcode::GetFeatures: return respond(sqe.cid, st::kSuccess, 0);
        case proto::AdminOpcode::KeepAlive: return respond(sqe.cid, st::kSuccess);
        case proto::AdminOpcode::AsyncEventRequest: return;  // held until an event, which never comes
        default: return respond(sqe.cid, st::kInvalidOpcode);
        }
    }

    bool is_discovery() {
        std::lock_guard lock(s_.mutex);
        return controller()->discovery;
    }

    void send_c2h_or_status(const proto::Sqe& sqe, std::span<const std::byte> data) {
        if (sqe.sgl.length != data.size()) {
            // Transfer exactly what the host's buffer takes, as a short data SGL would.
            return respond(sqe.cid, st::kSglLengthInvalid);
        }
        bool success_flag = sqflow_disabled_;
        c2h(sqe.cid, data, success_flag);
        if (!success_flag) respond(sqe.cid, st::kSuccess);
    }

    void identify(const proto::Sqe& sqe) {
        auto cns = static_cast<proto::IdentifyCns>(sqe.cdw10 & 0xff);
        std::vector<std::byte> page(proto::kIdentifyDataSize);
        switch (cns) {
        case proto::IdentifyCns::Controller: {
            proto::IdentifyController id{};
            std::memcpy(id.sn, "FAKE0001            ", 20);
            std::memcpy(id.mn, "nvmfd host-test fake target             ", 40);
            std::memcpy(id.fr, "0.1     ", 8);
            id.mdts = o_.mdts;
            id.cntlid = cntlid_;
            id.ver = proto::nvme_version(1, 4);
            id.cntrltype = static_cast<uint8_t>(is_discovery() ? proto::ControllerType::Discovery
                                                               : proto::ControllerType::Io);
            id.sqes = 0x66;
            id.cqes = 0x44;
            id.maxcmd = o_.mqes;
            id.nn = 1;
            id.oncs = proto::idctrl::kOncsCompare | proto::idctrl::kOncsDatasetManagement |
                      proto::idctrl::kOncsWriteZeroes;
            id.sgls = proto::idctrl::kSglsSupported | proto::idctrl::kSglsOffsetSupported;
            id.kas = 10;
            id.lpa = proto::idctrl::kLpaExtendedData;
            std::string nqn = is_discovery() ? proto::kDiscoveryNqn : o_.subnqn;
            std::memcpy(id.subnqn, nqn.data(), nqn.size());
            id.ioccsz = (64 + o_.in_capsule_bytes) / 16;
            id.iorcsz = 1;
            std::memcpy(page.data(), &id, sizeof id);
            break;
        }
        case proto::IdentifyCns::Namespace: {
            if (sqe.nsid != 1) return respond(sqe.cid, st::kInvalidNamespace);
            proto::IdentifyNamespace ns{};
            ns.nsze = ns.ncap = ns.nuse = o_.namespace_bytes / o_.block_size;
            ns.lbaf[0].lbads = static_cast<uint8_t>(std::countr_zero(o_.block_size));
            ns.nguid[0] = 0x42;
            std::memcpy(page.data(), &ns, sizeof ns);
            break;
        }
        case proto::IdentifyCns::ActiveNamespaceList: {
            if (sqe.nsid < 1) {
                uint32_t one = 1;
                std::memcpy(page.data(), &one, 4);
            }
            break;
        }
        case proto::IdentifyCns::NamespaceDescriptorList: {
            if (sqe.nsid != 1) return respond(sqe.cid, st::kInvalidNamespace);
            const uint8_t list[] = {2, 16, 0, 0, 0x42, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15,
                                    4, 1,  0, 0, 0};
            std::memcpy(page.data(), list, sizeof list);
            break;
        }
        default: return respond(sqe.cid, st::kInvalidField);
        }
        send_c2h_or_status(sqe, page);
    }

    void log_page(const proto::Sqe& sqe) {
        uint8_t lid = sqe.cdw10 & 0xff;
        uint64_t numd = ((sqe.cdw10 >> 16) | (uint64_t(sqe.cdw11 & 0xffff) << 16)) + 1;
        uint64_t offset = sqe.cdw12 | (uint64_t(sqe.cdw13) << 32);
        std::vector<std::byte> full;
        if (lid == uint8_t(proto::LogPageId::Discovery)) {
            if (!is_discovery()) return respond(sqe.cid, st::kInvalidLogPage);
            proto::DiscoveryLogHeader h{};
            h.generation = 7;
            h.record_count = 2;
            full.resize(sizeof h + 2 * sizeof(proto::DiscoveryLogEntry));
            std::memcpy(full.data(), &h, sizeof h);
            for (int i = 0; i < 2; ++i) {
                proto::DiscoveryLogEntry e{};
                e.trtype = uint8_t(proto::TransportType::Tcp);
                e.adrfam = uint8_t(proto::AddressFamily::Ipv4);
                e.subtype = uint8_t(i == 0 ? proto::DiscoverySubtype::CurrentDiscovery : proto::DiscoverySubtype::Nvme);
                e.portid = 1;
                e.cntlid = proto::kDynamicControllerId;
                e.asqsz = 32;
                std::string nqn = i == 0 ? proto::kDiscoveryNqn : o_.subnqn;
                std::memcpy(e.subnqn, nqn.data(), nqn.size());
                std::memset(e.traddr, ' ', sizeof e.traddr);
                std::memcpy(e.traddr, "127.0.0.1", 9);
                std::memset(e.trsvcid, ' ', sizeof e.trsvcid);
                std::memcpy(e.trsvcid, "4420", 4);
                std::memcpy(full.data() + sizeof h + i * sizeof e, &e, sizeof e);
            }
        }
        std::vector<std::byte> page(numd * 4);
        if (offset < full.size())
            std::memcpy(page.data(), full.data() + offset, std::min<size_t>(page.size(), full.size() - offset));
        send_c2h_or_status(sqe, page);
    }

    // --- NVM commands -------------------------------------------------------
    bool lba_range(const proto::Sqe& sqe, uint64_t& offset, uint32_t& length) {
        uint64_t slba = sqe.cdw10 | (uint64_t(sqe.cdw11) << 32);
        uint64_t blocks = (sqe.cdw12 & 0xffff) + 1ull;
        uint64_t total = o_.namespace_bytes / o_.block_size;
        if (slba + blocks > total) {
            respond(sqe.cid, st::kLbaOutOfRange);
            return false;
        }
        offset = slba * o_.block_size;
        length = static_cast<uint32_t>(blocks * o_.block_size);
        return true;
    }

    void io(const proto::Sqe& sqe, std::span<const std::byte> data) {
        if (sqe.nsid != 1) return respond(sqe.cid, st::kInvalidNamespace);
        auto op = static_cast<proto::IoOpcode>(sqe.opcode);
        Fault fault = Fault::None;
        bool eligible = o_.fault == Fault::CorruptReadData ? op == proto::IoOpcode::Read
                                                           : op == proto::IoOpcode::Read || op == proto::IoOpcode::Write;
        if (eligible && o_.fault != Fault::None && !s_.fault_fired.exchange(true))
            fault = o_.fault;
        switch (fault) {
        case Fault::NoResponse: return;
        case Fault::CloseConnection: throw Closed{};
        case Fault::TermReq: terminate(TermFes::InvalidHeaderField, 0, "fault: TermReq");
        default: break;
        }
        uint64_t offset;
        uint32_t length;
        switch (op) {
        case proto::IoOpcode::Read: {
            if (!lba_range(sqe, offset, length)) return;
            if (sqe.sgl.length != length) return respond(sqe.cid, st::kSglLengthInvalid);
            std::span<const std::byte> src(s_.disk.data() + offset, length);
            C2HFaults f;
            f.corrupt_header_digest = fault == Fault::CorruptHeaderDigest;
            f.corrupt_data_digest = fault == Fault::CorruptDataDigest;
            f.misaligned = fault == Fault::MisalignedPdo;
            f.out_of_order = fault == Fault::DataOutOfOrder;
            f.success_without_last = fault == Fault::SuccessFlagWithoutLast;
            if (fault == Fault::ShortReadSuccess) src = src.first(length / 2);
            std::vector<std::byte> corrupted;
            if (fault == Fault::CorruptReadData) {
                corrupted.assign(src.begin(), src.end());
                corrupted[length / 2 + 100] ^= std::byte{0x10};  // past the block header
                src = corrupted;
            }
            bool success_flag = sqflow_disabled_ && fault != Fault::ShortReadSuccess;
            c2h(sqe.cid, src, success_flag, f);
            if (!success_flag) respond(fault == Fault::UnknownCid ? uint16_t(sqe.cid + 1000) : sqe.cid, st::kSuccess);
            return;
        }
        case proto::IoOpcode::Write:
        case proto::IoOpcode::Compare: {
            if (!lba_range(sqe, offset, length)) return;
            if (sqe.sgl.length != length) return respond(sqe.cid, st::kSglLengthInvalid);
            if (sqe.sgl.type == proto::sgl::kInCapsule) {
                if (fault == Fault::UnknownCid) return respond(uint16_t(sqe.cid + 1000), st::kSuccess);
                return finish_write(sqe, offset, data);
            }
            PendingWrite& w = writes_[sqe.cid];
            w.sqe = sqe;
            w.offset = offset;
            w.data.assign(length, std::byte{0});
            w.received = 0;
            w.ttag = ++ttag_;
            w.fault = fault;
            uint32_t first = o_.r2t_chunk ? std::min(o_.r2t_chunk, length) : length;
            w.requested = first;
            r2t(sqe.cid, w.ttag, 0, fault == Fault::R2TOverrun ? length + 4096 : first);
            return;
        }
        case proto::IoOpcode::Flush: return respond(sqe.cid, st::kSuccess);
        case proto::IoOpcode::WriteZeroes:
            if (!lba_range(sqe, offset, length)) return;
            std::memset(s_.disk.data() + offset, 0, length);
            return respond(sqe.cid, st::kSuccess);
        case proto::IoOpcode::DatasetManagement: {
            uint32_t ranges = (sqe.cdw10 & 0xff) + 1;
            if (data.size() != ranges * sizeof(proto::DsmRange)) return respond(sqe.cid, st::kSglLengthInvalid);
            for (uint32_t i = 0; i < ranges; ++i) {
                auto r = load<proto::DsmRange>(data.data() + i * sizeof(proto::DsmRange));
                uint64_t total = o_.namespace_bytes / o_.block_size;
                if (r.slba + r.nlb > total) return respond(sqe.cid, st::kLbaOutOfRange);
                if (sqe.cdw11 & proto::kDsmAttrDeallocate)
                    std::memset(s_.disk.data() + r.slba * o_.block_size, 0, uint64_t(r.nlb) * o_.block_size);
            }
            return respond(sqe.cid, st::kSuccess);
        }
        default: return respond(sqe.cid, st::kInvalidOpcode);
        }
    }

    void finish_write(const proto::Sqe& sqe, uint64_t offset, std::span<const std::byte> data) {
        if (sqe.opcode == uint8_t(proto::IoOpcode::Compare)) {
            bool same = std::memcmp(s_.disk.data() + offset, data.data(), data.size()) == 0;
            return respond(sqe.cid, same ? st::kSuccess : st::kCompareFailure);
        }
        std::memcpy(s_.disk.data() + offset, data.data(), data.size());
        respond(sqe.cid, st::kSuccess);
    }

    void h2c_data(const DataPdu& pdu, std::span<const std::byte> data) {
        auto it = writes_.find(pdu.cccid);
        if (it == writes_.end()) terminate(TermFes::InvalidHeaderField, 8, "H2CData for an unknown command");
        PendingWrite& w = it->second;
        if (pdu.ttag != w.ttag) terminate(TermFes::InvalidHeaderField, 10, "H2CData with a wrong TTAG");
        if (pdu.datao != w.received)
            terminate(TermFes::DataOutOfRange, 12, fmt::format("H2CData DATAO {}, expected {}", pdu.datao, w.received));
        if (pdu.datal != data.size()) terminate(TermFes::InvalidHeaderField, 16, "H2CData DATAL does not match PLEN");
        if (pdu.datal > o_.maxh2cdata)
            terminate(TermFes::DataLimitExceeded, 16, fmt::format("H2CData DATAL {} above MAXH2CDATA", pdu.datal));
        if (w.received + pdu.datal > w.requested)
            terminate(TermFes::DataOutOfRange, 16, "H2CData beyond what the R2T asked for");
        std::memcpy(w.data.data() + w.received, data.data(), data.size());
        w.received += pdu.datal;
        bool last = pdu.ch.flags & flags::kLastPdu;
        if (last != (w.received == w.requested))
            terminate(TermFes::InvalidHeaderField, 1,
                      fmt::format("H2CData LAST_PDU {} at {} of {} requested bytes", last, w.received, w.requested));
        if (data_digest_error_) {
            respond(pdu.cccid, st::kDataTransferError);
            writes_.erase(it);
            return;
        }
        if (w.received < w.data.size()) {
            if (w.received == w.requested) {
                uint32_t next = std::min<uint32_t>(o_.r2t_chunk, static_cast<uint32_t>(w.data.size()) - w.received);
                w.requested += next;
                r2t(pdu.cccid, w.ttag, w.received, next);
            }
            return;
        }
        proto::Sqe sqe = w.sqe;
        uint64_t offset = w.offset;
        std::vector<std::byte> buffer = std::move(w.data);
        Fault fault = w.fault;
        writes_.erase(it);
        if (fault == Fault::UnknownCid) return respond(uint16_t(sqe.cid + 1000), st::kSuccess);
        finish_write(sqe, offset, buffer);
    }

    struct PendingWrite {
        proto::Sqe sqe{};
        uint64_t offset = 0;
        std::vector<std::byte> data;
        uint32_t received = 0;
        uint32_t requested = 0;
        uint16_t ttag = 0;
        Fault fault = Fault::None;
    };

    FakeTarget::Shared& s_;
    const FakeTargetOptions& o_;
    int fd_;
    std::vector<std::byte> in_;
    size_t in_begin_ = 0;
    size_t in_end_ = 0;
    std::vector<std::byte> out_;
    uint8_t hpda_ = 0;
    bool hdgst_ = false;
    bool ddgst_ = false;
    bool data_digest_error_ = false;
    bool connected_ = false;
    bool sqflow_disabled_ = false;
    uint16_t qid_ = 0;
    uint16_t cntlid_ = 0;
    uint16_t sqhd_ = 0;
    uint16_t ttag_ = 0;
    std::unordered_map<uint16_t, PendingWrite> writes_;
};

}  // namespace

FakeTarget::FakeTarget(FakeTargetOptions options, uint16_t port) : options_(options), shared_(std::make_unique<Shared>()) {
    shared_->options = options_;
    shared_->stopping = &stopping_;
    shared_->commands = &commands_;
    shared_->disk.resize(options_.namespace_bytes);
    listen_fd_ = ::socket(options_.ipv6 ? AF_INET6 : AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    int one = 1;
    ::setsockopt(listen_fd_, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
    sockaddr_storage storage{};
    socklen_t len;
    if (options_.ipv6) {
        auto* addr = reinterpret_cast<sockaddr_in6*>(&storage);
        addr->sin6_family = AF_INET6;
        addr->sin6_port = htons(port);
        addr->sin6_addr = in6addr_loopback;
        len = sizeof *addr;
    } else {
        auto* addr = reinterpret_cast<sockaddr_in*>(&storage);
        addr->sin_family = AF_INET;
        addr->sin_port = htons(port);
        addr->sin_addr.s_addr = htonl(INADDR_LOOPBACK);
        len = sizeof *addr;
    }
    auto* addr = reinterpret_cast<sockaddr*>(&storage);
    if (::bind(listen_fd_, addr, len) < 0 || ::listen(listen_fd_, 64) < 0)
        throw std::runtime_error(fmt::format("fake target: bind/listen on port {}: {}", port, std::strerror(errno)));
    ::getsockname(listen_fd_, addr, &len);
    port_ = ntohs(options_.ipv6 ? reinterpret_cast<sockaddr_in6*>(&storage)->sin6_port
                                : reinterpret_cast<sockaddr_in*>(&storage)->sin_port);
    acceptor_ = std::thread([this] { accept_loop(); });
}

FakeTarget::~FakeTarget() {
    stopping_ = true;
    if (acceptor_.joinable()) acceptor_.join();
    ::close(listen_fd_);
    std::vector<std::thread> sessions;
    {
        std::lock_guard lock(shared_->mutex);
        for (int fd : shared_->fds) ::shutdown(fd, SHUT_RDWR);
        sessions.swap(shared_->sessions);
    }
    for (auto& t : sessions) t.join();
    for (int fd : shared_->fds) ::close(fd);
}

void FakeTarget::accept_loop() {
    while (!stopping_) {
        pollfd p{listen_fd_, POLLIN, 0};
        if (::poll(&p, 1, 50) <= 0) continue;
        int fd = ::accept4(listen_fd_, nullptr, nullptr, SOCK_CLOEXEC);
        if (fd < 0) continue;
        int one = 1;
        ::setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
        std::lock_guard lock(shared_->mutex);
        shared_->fds.push_back(fd);
        shared_->sessions.emplace_back([shared = shared_.get(), fd] { Session(*shared, fd).run(); });
    }
}

std::vector<std::string> FakeTarget::violations() const {
    std::lock_guard lock(shared_->mutex);
    return shared_->violations;
}

std::vector<uint32_t> FakeTarget::io_queue_sizes() const {
    std::lock_guard lock(shared_->mutex);
    return shared_->io_queue_sizes;
}

void FakeTarget::wait() {
    if (acceptor_.joinable()) acceptor_.join();
}

}  // namespace nvmfd::host::testing
