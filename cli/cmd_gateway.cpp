// nvmfctl gateway drain|resume: planned maintenance of a gateway in a
// group. The loaded policies (examples/policies/failover.lua) move this
// gateway's ANA groups to its peers, or take them back.
#include <fmt/format.h>

#include "cli/command.hpp"
#include "cli/output.hpp"

namespace nvmfd::cli {
namespace {

int drain(Context& ctx, const ParsedArgs&) {
    auto policies = ctx.client.call([](ManagerProxy& m) { return m.Drain(); });
    done(ctx,
         fmt::format("draining: told {}; its peers take over this gateway's ANA groups within their probe "
                     "interval times missed probes",
                     join(policies)),
         {{"draining", true}, {"policies", policies}});
    return 0;
}

int resume(Context& ctx, const ParsedArgs&) {
    auto policies = ctx.client.call([](ManagerProxy& m) { return m.Resume(); });
    done(ctx, fmt::format("back in service: told {}", join(policies)), {{"draining", false}, {"policies", policies}});
    return 0;
}

}  // namespace

Group gateway_commands() {
    return Group{
        "gateway",
        "this gateway in a group of gateways that export the same storage",
        {
            {{"gateway", "drain", "Hand this gateway's ANA groups to its peers before maintenance.", {}, {},
              "The policies that handle on_drain (failover.lua) mark every ANA group inaccessible here;\n"
              "the peers see it on their next probe and take the groups over. Hosts move to the peers'\n"
              "paths without an I/O error. Stop the daemon once the peers serve the groups (nvme ana-log\n"
              "on a host, or 'nvmfctl ana list' on the peers). Refused when no loaded policy handles on_drain."},
             drain},
            {{"gateway", "resume", "End a drain: the policies take this gateway's ANA groups back.", {}, {},
              "A restarted daemon is never draining."},
             resume},
        },
        "See docs/high-availability.md."};
}

}  // namespace nvmfd::cli
