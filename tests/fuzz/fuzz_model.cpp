#include "tests/fuzz/fuzz_model.hpp"

#include <cstdlib>
#include <future>

#include "core/runtime/log.hpp"
#include "core/target/identifiers.hpp"
#include "core/target/snapshot.hpp"

namespace nvmfd::fuzz {
namespace {

[[noreturn]] void die(const std::string& what) {
    fmt::print(stderr, "fuzz model: {}\n", what);
    std::abort();
}

std::shared_ptr<target::Namespace> malloc_namespace(plugin::Backend& backend, uint32_t nsid, const char* block_size,
                                                    unsigned reactors) {
    auto dev = backend.open({{"size", "1M"}, {"block_size", block_size}});
    if (!dev) die(dev.error().describe());
    return std::make_shared<target::Namespace>(nsid, "malloc", std::move(*dev), target::generate_uuid(),
                                               target::generate_nguid(), reactors);
}

}  // namespace

FuzzModel& FuzzModel::get() {
    // Leaked on purpose: reactor threads and plugin code must outlive every
    // static destructor that could still reach them at exit.
    static FuzzModel* model = new FuzzModel();
    return *model;
}

FuzzModel::FuzzModel()
    : loader_(NVMFD_FUZZ_PLUGIN_DIR),
      reactors_(1, runtime::ReactorOptions{.buffer_pool_bytes = 16u << 20}),
      target_(reactors_, target::TargetOptions{}) {
    // Hosts' mistakes are logged at notice and warning: millions of them
    // would drown the fuzzer's own output. NVMFD_FUZZ_LOG=1 shows them all
    // (when checking what one input does).
    log::set_level(std::getenv("NVMFD_FUZZ_LOG") ? log::Level::Debug : log::Level::Error);
    auto loaded = loader_.load(plugin::PluginKind::Backend, "malloc");
    if (!loaded) die(loaded.error().describe());
    backend_ = (*loaded)->descriptor->create_backend({});
    if (!backend_) die("the malloc backend did not start");

    auto sub = std::make_shared<target::Subsystem>();
    sub->nqn = kSubsystemNqn;
    sub->serial = "FUZZ";
    sub->model = "nvmfd fuzz";
    sub->allow_any_host = true;
    sub->namespaces.push_back({malloc_namespace(*backend_, 1, "512", reactors_.size()), 1, {}});
    sub->namespaces.push_back({malloc_namespace(*backend_, 2, "4096", reactors_.size()), 2, {}});

    auto port = std::make_shared<target::Port>();
    port->config = plugin::PortConfig{kPortId, "tcp", "ipv4", "127.0.0.1", "4420", {}};
    port->discovery.trtype = proto::TransportType::Tcp;
    port->discovery.adrfam = proto::AddressFamily::Ipv4;
    port->discovery.treq = proto::treq::kSecureChannelNotRequired;
    port->discovery.traddr = "127.0.0.1";
    port->discovery.trsvcid = "4420";
    port->subsystems = {kSubsystemNqn};
    port->ana_states[2] = proto::AnaState::NonOptimized;

    auto snap = std::make_shared<target::TargetSnapshot>();
    snap->generation = 1;
    snap->discovery_generation = 1;
    snap->subsystems = {sub};
    snap->ports = {port};
    snap->ana_groups = {target::AnaGroup{1}, target::AnaGroup{2}};
    target_.publish(snap);
    reactors_.start();
    target_.set_reactors_running(true);
}

void FuzzModel::run(const std::function<void()>& fn) {
    std::promise<void> done;
    reactor().post([&] {
        fn();
        done.set_value();
    });
    done.get_future().get();
}

}  // namespace nvmfd::fuzz
