// nvmfctl host list|allow|set-key|revoke
#include <fmt/format.h>

#include "cli/command.hpp"
#include "cli/files.hpp"
#include "cli/output.hpp"

namespace nvmfd::cli {
namespace {

const ArgSpec kNqn{"nqn", "the subsystem's NQN"};
const ArgSpec kHost{"hostnqn", "the host's NQN, e.g. nqn.2014-08.org.nvmexpress:uuid:..."};

using Options = std::map<std::string, sdbus::Variant>;

const std::vector<OptionSpec> kKeyOptions{
    {"dhchap-secret", "SECRET|@FILE",
     "the host's DH-HMAC-CHAP secret (DHHC-1:NN:...: as `nvme gen-dhchap-key` writes it); the host must then "
     "authenticate. @FILE reads it from a file (keeps it out of ps and shell history). '' removes it"},
    {"dhchap-ctrl-secret", "SECRET|@FILE",
     "the controller's secret, for bidirectional authentication (the host then authenticates nvmfd too)"},
    {"tls-psk", "KEY|@FILE", "the host's retained TLS PSK (NVMeTLSkey-1:HH:...:, `nvme gen-tls-key`)"},
    {"dhchap-digests", "LIST", "hashes the host may use, comma-separated: sha256,sha384,sha512 (default: all)"},
    {"dhchap-groups", "LIST",
     "DH groups the host may use: null,ffdhe2048,ffdhe3072,ffdhe4096,ffdhe6144,ffdhe8192 (default: all)"},
};

std::string secret_value(const std::string& v) {
    if (!v.starts_with("@")) return v;
    std::string text = read_file(v.substr(1));
    while (!text.empty() && (text.back() == '\n' || text.back() == '\r' || text.back() == ' ')) text.pop_back();
    return text;
}

std::vector<std::string> comma_list(const std::string& v) {
    std::vector<std::string> out;
    size_t start = 0;
    while (start <= v.size()) {
        size_t end = v.find(',', start);
        if (end == std::string::npos) end = v.size();
        if (end > start) out.push_back(v.substr(start, end - start));
        start = end + 1;
    }
    return out;
}

// The key options given, as SetHostKeys/AllowHostWithKeys take them.
Options key_options(const ParsedArgs& a) {
    Options o;
    for (const char* k : {"dhchap-secret", "dhchap-ctrl-secret", "tls-psk"})
        if (auto v = a.value(k)) o[k] = sdbus::Variant(secret_value(*v));
    for (const char* k : {"dhchap-digests", "dhchap-groups"})
        if (auto v = a.value(k)) o[k] = sdbus::Variant(comma_list(*v));
    return o;
}

// "dhchap (bidirectional), tls" for a host: whether keys are set, never the keys.
std::string auth_summary(const Options& k) {
    auto flag = [&](const char* name) { return k.count(name) && k.at(name).get<bool>(); };
    std::string out;
    if (flag("dhchap-secret")) out = flag("dhchap-ctrl-secret") ? "dhchap (bidirectional)" : "dhchap";
    if (flag("tls-psk")) out += out.empty() ? "tls-psk" : ", tls-psk";
    if (flag("missing")) out += " [SECRET MISSING: set it again]";
    return out.empty() ? "-" : out;
}

int list(Context& ctx, const ParsedArgs& a) {
    State st = ctx.client.read_state();
    const SubsystemInfo* s = st.subsystem(a.arg(0));
    if (!s) throw CommandError("org.nvmfd.Error.NotFound", fmt::format("no subsystem '{}'", a.arg(0)));
    // Which hosts must authenticate is for admins only; others see the list without it.
    std::map<std::string, std::string> auth;
    try {
        for (const auto& h : s->hosts)
            auth[h] = auth_summary(ctx.client.call([&](ManagerProxy& m) { return m.GetHostKeys(s->nqn, h); }));
    } catch (const CommandError&) {
        auth.clear();
    }
    if (ctx.json) {
        nlohmann::json j{{"nqn", s->nqn}, {"allow_any_host", s->allow_any_host}, {"hosts", s->hosts}};
        if (!auth.empty()) j["auth"] = auth;
        print_json(j);
        return 0;
    }
    if (s->allow_any_host) print_line("any host may connect (allow-any-host is on); the list below is kept for when it is off");
    Table t(auth.empty() ? std::vector<std::string>{"HOST NQN"} : std::vector<std::string>{"HOST NQN", "AUTH"});
    for (const auto& h : s->hosts) {
        if (auth.empty()) t.add({h});
        else t.add({h, auth[h]});
    }
    if (t.empty()) print_line("no hosts on the allowed list");
    else print(t);
    return 0;
}

int allow(Context& ctx, const ParsedArgs& a) {
    Options keys = key_options(a);
    if (keys.empty())
        ctx.client.call([&](ManagerProxy& m) { m.AllowHost(a.arg(0), a.arg(1)); });
    else
        ctx.client.call([&](ManagerProxy& m) { m.AllowHostWithKeys(a.arg(0), a.arg(1), keys); });
    done(ctx, fmt::format("host {} may connect to {}{}", a.arg(1), a.arg(0),
                          keys.count("dhchap-secret") ? " (it must authenticate)" : ""));
    return 0;
}

int set_key(Context& ctx, const ParsedArgs& a) {
    Options keys = key_options(a);
    if (keys.empty())
        throw UsageError("give at least one of --dhchap-secret, --dhchap-ctrl-secret, --tls-psk, --dhchap-digests, "
                         "--dhchap-groups");
    if (a.flag("disconnect")) keys["disconnect"] = sdbus::Variant(true);
    ctx.client.call([&](ManagerProxy& m) { m.SetHostKeys(a.arg(0), a.arg(1), keys); });
    done(ctx, fmt::format("keys of host {} on {} changed; {}", a.arg(1), a.arg(0),
                          a.flag("disconnect") ? "its controllers were disconnected"
                                               : "they apply to its next authentication"));
    return 0;
}

int revoke(Context& ctx, const ParsedArgs& a) {
    ctx.client.call([&](ManagerProxy& m) { m.DisallowHost(a.arg(0), a.arg(1)); });
    done(ctx, fmt::format("host {} may no longer connect to {}", a.arg(1), a.arg(0)));
    return 0;
}

}  // namespace

Group host_commands() {
    return Group{"host",
                 "host access: which host NQNs may connect to a subsystem",
                 {
                     {{"host", "list", "List the hosts allowed on a subsystem.", {kNqn}, {}, ""}, list},
                     {{"host", "allow", "Allow a host to connect to a subsystem.", {kNqn, kHost}, kKeyOptions,
                       "With --dhchap-secret the host must authenticate (DH-HMAC-CHAP) on every queue. Secrets "
                       "are kept in the daemon's secrets file (0600) and never shown."},
                      allow},
                     {{"host", "set-key", "Set, change or remove an allowed host's keys.", {kNqn, kHost},
                       [] {
                           auto o = kKeyOptions;
                           o.push_back({"disconnect", "", "disconnect the host's controllers now"});
                           return o;
                       }(),
                       "New keys apply to the host's next authentication (reconnect or re-authentication); "
                       "connected queues stay unless --disconnect. An empty value ('') removes a key."},
                      set_key},
                     {{"host", "revoke", "Take a host off a subsystem's allowed list.", {kNqn, kHost}, {},
                       "Its connected controllers are disconnected now, unless allow-any-host is on."},
                      revoke},
                 },
                 ""};
}

}  // namespace nvmfd::cli
