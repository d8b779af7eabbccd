// Management changes while hosts are connected, with the target in this
// process (control API called directly, hosts over loopback): namespace
// hot add / resize / remove raise the namespace-attribute AEN and fill the
// changed-namespace log; ANA state changes raise the ANA AEN, show in the
// ANA log and gate I/O; per-host namespace visibility; forced removal.
#include <doctest/doctest.h>

#include <cstring>
#include <optional>
#include <thread>

#include "core/control/control.hpp"
#include "core/runtime/log.hpp"
#include "tests/integration/nvmfd_process.hpp"
#include "tools/host/controller.hpp"
#include "tools/host/errors.hpp"
#include "tools/host/io_queue.hpp"

using namespace nvmfd;
using namespace nvmfd::host;
using namespace std::chrono_literals;
namespace status = proto::status;

namespace {

const std::string kNqn = "nqn.2026-11.io.nvmfd:live";
const std::string kHostA = "nqn.2014-08.org.nvmexpress:uuid:00000000-0000-4000-8000-00000000000a";
const std::string kHostB = "nqn.2014-08.org.nvmexpress:uuid:00000000-0000-4000-8000-00000000000b";

struct InProcessTarget {
    plugin::PluginLoader loader{NVMFD_TEST_PLUGIN_DIR};
    runtime::ReactorGroup reactors{2, runtime::ReactorOptions{.buffer_pool_bytes = 16u << 20}};
    target::Target target{reactors, {}};
    std::unique_ptr<control::Control> control;
    uint16_t port = testing::free_tcp_port();

    InProcessTarget() {
        log::set_level(log::Level::Warning);
        reactors.start();
        target.set_reactors_running(true);
        control = std::make_unique<control::Control>(target, loader, control::ControlOptions{});
        control::SubsystemSettings open_to_all;
        open_to_all.allow_any_host = true;
        REQUIRE(control->add_subsystem(kNqn, open_to_all));
        REQUIRE(control->add_ana_group(2));
        control::NamespaceSettings ns;
        ns.backend = "malloc";
        ns.params = {{"size", "8M"}};
        REQUIRE(control->add_namespace(kNqn, ns));
        control::PortSettings p;
        p.address = "127.0.0.1";
        p.service = std::to_string(port);
        REQUIRE(control->add_port(p));
        REQUIRE(control->link_subsystem(1, kNqn));
    }
    ~InProcessTarget() {
        control.reset();
        reactors.stop();
    }
};

Controller connect_host(uint16_t port, const std::string& hostnqn) {
    ControllerOptions o;
    o.subnqn = kNqn;
    o.host.hostnqn = hostnqn;
    o.host.hostid[0] = static_cast<uint8_t>(hostnqn.back());
    o.kato_ms = 10000;
    Controller c = Controller::connect({"127.0.0.1", port}, o);
    REQUIRE(c.set_features(uint8_t(proto::FeatureId::AsyncEventConfig), (1u << 8) | (1u << 11)).status.ok());
    return c;
}

// One outstanding Asynchronous Event Request and what it completed with.
struct EventWatch {
    std::optional<Completion> got;
    void arm(Controller& c) {
        got.reset();
        c.submit_async_event([this](const Completion& x) { got = x; });
    }
    Completion wait(Controller& c) {
        c.admin().run_until([&] { return got.has_value(); }, 5s, "asynchronous event");
        return *got;
    }
};

std::vector<uint32_t> changed_namespaces(Controller& c) {
    std::vector<std::byte> page(4096);
    REQUIRE(c.get_log_page(uint8_t(proto::LogPageId::ChangedNamespaceList), page).ok());
    std::vector<uint32_t> out;
    for (size_t i = 0; i < 1024; ++i) {
        uint32_t id;
        std::memcpy(&id, page.data() + i * 4, 4);
        if (!id) break;
        out.push_back(id);
    }
    return out;
}

uint8_t ana_state_of_group(Controller& c, uint32_t group) {
    std::vector<std::byte> page(4096);
    REQUIRE(c.get_log_page(uint8_t(proto::LogPageId::AsymmetricNamespaceAccess), page).ok());
    proto::AnaLogHeader hdr;
    std::memcpy(&hdr, page.data(), sizeof hdr);
    size_t off = sizeof hdr;
    for (uint16_t i = 0; i < hdr.group_count; ++i) {
        proto::AnaGroupDescriptor d;
        std::memcpy(&d, page.data() + off, sizeof d);
        if (d.group_id == group) return d.state;
        off += sizeof d + 4 * d.nsid_count;
    }
    FAIL("group not in the ANA log");
    return 0;
}

}  // namespace

TEST_CASE("namespace hot add, resize and remove reach connected hosts") {
    InProcessTarget t;
    Controller host = connect_host(t.port, kHostA);
    host.request_io_queues(1);
    IoQueue io = host.connect_io_queue(1, 8);
    EventWatch aen;
    aen.arm(host);

    control::NamespaceSettings ns;
    ns.backend = "malloc";
    ns.params = {{"size", "4M"}};
    REQUIRE(*t.control->add_namespace(kNqn, ns) == 2);
    Completion c = aen.wait(host);
    CHECK(c.status.ok());
    CHECK((c.dw0 & 0x7) == uint32_t(proto::AsyncEventType::Notice));
    CHECK(((c.dw0 >> 8) & 0xff) == uint32_t(proto::AsyncNotice::NamespaceAttributeChanged));
    CHECK(((c.dw0 >> 16) & 0xff) == uint32_t(proto::LogPageId::ChangedNamespaceList));
    CHECK(changed_namespaces(host) == std::vector<uint32_t>{2});
    CHECK(changed_namespaces(host).empty());  // reading cleared it
    std::vector<std::byte> buf(4096);
    CHECK(io.read(2, 0, 8, buf).ok());

    aen.arm(host);
    REQUIRE(t.control->resize_namespace(kNqn, 2, 8u << 20));
    CHECK(aen.wait(host).status.ok());
    CHECK(changed_namespaces(host) == std::vector<uint32_t>{2});
    CHECK(host.namespace_geometry(2).blocks == (8u << 20) / 512);
    CHECK(io.read(2, (8u << 20) / 512 - 8, 8, buf).ok());  // the new end is readable

    aen.arm(host);
    REQUIRE(t.control->remove_namespace(kNqn, 2));
    CHECK(aen.wait(host).status.ok());
    CHECK(changed_namespaces(host) == std::vector<uint32_t>{2});
    CHECK(io.read(2, 0, 8, buf) == status::kInvalidNamespace);
    CHECK(io.read(1, 0, 8, buf).ok());
}

TEST_CASE("ANA state changes raise the ANA event, show in the log and gate I/O") {
    InProcessTarget t;
    control::NamespaceSettings ns;
    ns.backend = "malloc";
    ns.params = {{"size", "4M"}};
    ns.ana_group = 2;
    REQUIRE(*t.control->add_namespace(kNqn, ns) == 2);
    Controller host = connect_host(t.port, kHostA);
    host.request_io_queues(1);
    IoQueue io = host.connect_io_queue(1, 8);
    std::vector<std::byte> buf(4096);
    CHECK(io.read(2, 0, 8, buf).ok());

    EventWatch aen;
    aen.arm(host);
    REQUIRE(t.control->set_ana_state(1, 2, proto::AnaState::Inaccessible));
    Completion c = aen.wait(host);
    CHECK(((c.dw0 >> 8) & 0xff) == uint32_t(proto::AsyncNotice::AnaChange));
    CHECK(((c.dw0 >> 16) & 0xff) == uint32_t(proto::LogPageId::AsymmetricNamespaceAccess));
    CHECK(ana_state_of_group(host, 2) == uint8_t(proto::AnaState::Inaccessible));
    CHECK(ana_state_of_group(host, 1) == uint8_t(proto::AnaState::Optimized));
    proto::Status st = io.read(2, 0, 8, buf);
    CHECK(st == status::kAnaInaccessible);
    CHECK_FALSE(st.dnr());  // the host may retry on another path
    CHECK(io.read(1, 0, 8, buf).ok());  // group 1 is untouched

    aen.arm(host);
    REQUIRE(t.control->set_ana_state(1, 2, proto::AnaState::Optimized));
    CHECK(aen.wait(host).status.ok());
    CHECK(ana_state_of_group(host, 2) == uint8_t(proto::AnaState::Optimized));
    CHECK(io.read(2, 0, 8, buf).ok());
}

TEST_CASE("a namespace visible to one host is invisible to another") {
    InProcessTarget t;
    control::NamespaceSettings ns;
    ns.backend = "malloc";
    ns.params = {{"size", "4M"}};
    ns.visible_to = {kHostA};
    REQUIRE(*t.control->add_namespace(kNqn, ns) == 2);
    Controller a = connect_host(t.port, kHostA);
    Controller b = connect_host(t.port, kHostB);
    std::vector<uint32_t> list;
    REQUIRE(a.active_namespaces(list).ok());
    CHECK(list == std::vector<uint32_t>{1, 2});
    REQUIRE(b.active_namespaces(list).ok());
    CHECK(list == std::vector<uint32_t>{1});
    b.request_io_queues(1);
    IoQueue io = b.connect_io_queue(1, 8);
    std::vector<std::byte> buf(4096);
    CHECK(io.read(2, 0, 8, buf) == status::kInvalidNamespace);

    // Making it visible to B raises B's namespace event.
    EventWatch aen;
    aen.arm(b);
    REQUIRE(t.control->set_namespace_visibility(kNqn, 2, {kHostA, kHostB}));
    CHECK(aen.wait(b).status.ok());
    CHECK(io.read(2, 0, 8, buf).ok());
}

TEST_CASE("removing a subsystem with hosts connected needs force, then disconnects them") {
    InProcessTarget t;
    Controller host = connect_host(t.port, kHostA);
    host.request_io_queues(1);
    IoQueue io = host.connect_io_queue(1, 8);
    auto busy = t.control->remove_subsystem(kNqn, false);
    REQUIRE_FALSE(busy);
    CHECK(busy.error().code == ErrorCode::Busy);
    CHECK(busy.error().message.find(kHostA) != std::string::npos);
    std::vector<std::byte> buf(4096);
    CHECK(io.read(1, 0, 8, buf).ok());

    REQUIRE(t.control->remove_subsystem(kNqn, true));
    CHECK_THROWS(io.read(1, 0, 8, buf));
    CHECK_THROWS(host.keep_alive());
    // The association is gone from the target's books too.
    for (int i = 0; i < 100 && !t.control->controllers().empty(); ++i) std::this_thread::sleep_for(10ms);
    CHECK(t.control->controllers().empty());
}

TEST_CASE("revoking a host's access disconnects it at once") {
    InProcessTarget t;
    control::SubsystemSettings closed;
    closed.allow_any_host = false;
    REQUIRE(t.control->set_subsystem(kNqn, closed));
    REQUIRE(t.control->allow_host(kNqn, kHostA));
    Controller host = connect_host(t.port, kHostA);
    CHECK(host.keep_alive().ok());
    REQUIRE(t.control->disallow_host(kNqn, kHostA));
    bool gone = false;
    for (int i = 0; i < 50 && !gone; ++i) {
        try {
            host.keep_alive();
            std::this_thread::sleep_for(20ms);
        } catch (const host::Error&) {
            gone = true;
        }
    }
    CHECK(gone);
    CHECK_THROWS_AS(connect_host(t.port, kHostA), StatusError);
}
