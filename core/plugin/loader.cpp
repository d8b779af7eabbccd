#include "core/plugin/loader.hpp"

#include <boost/dll/import.hpp>
#include <cstring>

#include "core/runtime/log.hpp"

namespace nvmfd::plugin {
namespace {

const char* kind_text(PluginKind kind) {
    switch (kind) {
        case PluginKind::Transport: return "transport";
        case PluginKind::Backend: return "backend";
        case PluginKind::KernelTarget: return "kernel";
    }
    return "unknown";
}

bool valid(const PluginDescriptor* d) {
    if (!d || !d->name) return false;
    switch (d->kind) {
        case PluginKind::Transport: return d->create_transport != nullptr;
        case PluginKind::Backend: return d->create_backend != nullptr;
        case PluginKind::KernelTarget: return d->create_kernel_target != nullptr;
    }
    return false;
}

}  // namespace

const char* PluginLoader::kind_name(PluginKind kind) { return kind_text(kind); }

PluginLoader::PluginLoader(std::filesystem::path directory) : directory_(std::move(directory)) {}

std::string PluginLoader::file_name(PluginKind kind, std::string_view name) {
    return fmt::format("nvmfd-{}-{}.so", kind_name(kind), name);
}

Result<const LoadedPlugin*> PluginLoader::load_file(const std::filesystem::path& path) {
    std::lock_guard lock(mutex_);
    for (auto& p : loaded_)
        if (p->path == path) return p.get();

    std::error_code fs_ec;
    if (!std::filesystem::exists(path, fs_ec))
        return make_error(ErrorCode::PluginError, fmt::format("plugin file {} does not exist", path.string()));

    auto plugin = std::make_unique<LoadedPlugin>();
    plugin->path = path;
    boost::dll::fs::error_code ec;
    // RTLD_LOCAL keeps one plugin's symbols from resolving another's.
    plugin->library.load(boost::dll::fs::path(path.string()),
                         boost::dll::load_mode::rtld_now | boost::dll::load_mode::rtld_local, ec);
    if (ec)
        return make_error(ErrorCode::PluginError,
                          fmt::format("cannot load plugin {}: {}", path.string(), ec.message()));
    if (!plugin->library.has(kAbiTagSymbol))
        return make_error(ErrorCode::PluginError,
                          fmt::format("{} is not an nvmfd plugin (no {} symbol)", path.string(), kAbiTagSymbol));
    const char* tag = &plugin->library.get<const char>(kAbiTagSymbol);
    if (std::strcmp(tag, NVMFD_PLUGIN_ABI_TAG) != 0)
        return make_error(ErrorCode::PluginError,
                          fmt::format("plugin {} was built for ABI '{}' but this nvmfd needs '{}'; rebuild the plugin",
                                      path.string(), tag, NVMFD_PLUGIN_ABI_TAG));
    if (!plugin->library.has(kDescriptorSymbol))
        return make_error(ErrorCode::PluginError,
                          fmt::format("plugin {} has no {} function", path.string(), kDescriptorSymbol));
    auto& describe = plugin->library.get<const PluginDescriptor*()>(kDescriptorSymbol);
    plugin->descriptor = describe();
    const PluginDescriptor* d = plugin->descriptor;
    if (!valid(d))
        return make_error(ErrorCode::PluginError, fmt::format("plugin {} has an invalid descriptor", path.string()));
    log::debug("loaded {} plugin '{}' from {}", kind_name(d->kind), d->name, path.string());
    loaded_.push_back(std::move(plugin));
    return loaded_.back().get();
}

Result<const LoadedPlugin*> PluginLoader::load(PluginKind kind, std::string_view name) {
    for (char c : name)
        if (!(std::isalnum(static_cast<unsigned char>(c)) || c == '_' || c == '-'))
            return make_error(ErrorCode::InvalidArgument, fmt::format("'{}' is not a plugin name", name));
    auto path = directory_ / file_name(kind, name);
    std::error_code ec;
    if (!std::filesystem::exists(path, ec))
        return make_error(ErrorCode::NotFound,
                          fmt::format("no {} plugin named '{}': {} does not exist (plugin directory {})",
                                      kind_name(kind), name, path.string(), directory_.string()));
    auto loaded = load_file(path);
    if (!loaded) return loaded;
    const PluginDescriptor* d = (*loaded)->descriptor;
    if (d->kind != kind || name != d->name)
        return make_error(ErrorCode::PluginError,
                          fmt::format("{} describes itself as {} plugin '{}', expected {} plugin '{}'", path.string(),
                                      kind_name(d->kind), d->name, kind_name(kind), name));
    return loaded;
}

std::vector<PluginLoader::Listing> PluginLoader::scan() {
    std::vector<Listing> out;
    std::error_code ec;
    for (auto& entry : std::filesystem::directory_iterator(directory_, ec)) {
        auto fname = entry.path().filename().string();
        if (!fname.starts_with("nvmfd-") || !fname.ends_with(".so")) continue;
        Listing l{entry.path(), nullptr, {}};
        auto r = load_file(entry.path());
        if (r) l.descriptor = (*r)->descriptor; else l.error = r.error().message;
        out.push_back(std::move(l));
    }
    std::sort(out.begin(), out.end(), [](auto& a, auto& b) { return a.path < b.path; });
    return out;
}

}  // namespace nvmfd::plugin
