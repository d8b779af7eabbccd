// nvmfctl policy: Lua policies are not part of this version. The command
// exists so that scripts and muscle memory get a clear answer.
#include <iostream>

#include "cli/command.hpp"

namespace nvmfd::cli {
namespace {

int not_yet(Context&, const ParsedArgs&) {
    std::cerr << "nvmfctl: policies arrive with the Lua policy engine; this nvmfd has none yet\n";
    return 1;
}

}  // namespace

Group policy_commands() {
    return Group{"policy",
                 "Lua policies (not available yet: they arrive with the Lua policy engine)",
                 {
                     {{"policy", "list", "List loaded policies (not available yet).", {}, {}, ""}, not_yet},
                     {{"policy", "load", "Load a policy script (not available yet).", {{"file", "a .lua file"}}, {},
                       ""},
                      not_yet},
                     {{"policy", "unload", "Unload a policy (not available yet).", {{"name", "the policy's name"}},
                       {}, ""},
                      not_yet},
                 },
                 "Every policy command exits 1 until the Lua policy engine is in nvmfd."};
}

}  // namespace nvmfd::cli
