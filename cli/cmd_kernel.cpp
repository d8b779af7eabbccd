// nvmfctl kernel apply: make the kernel's nvmet configuration equal to
// nvmfd's for kernel-served exports, including what nvmfd held back at start
// because hosts would notice (listed by 'nvmfctl status' under "kernel differs").
#include <fmt/format.h>

#include "cli/command.hpp"
#include "cli/output.hpp"

namespace nvmfd::cli {
namespace {

int apply(Context& ctx, const ParsedArgs&) {
    auto applied = ctx.client.call([](ManagerProxy& m) { return m.ApplyKernelChanges(); });
    std::string text = applied.empty() ? "the kernel already agreed with nvmfd: nothing to apply"
                                       : "applied to the kernel:";
    for (const auto& line : applied) text += "\n  " + line;
    done(ctx, text, {{"applied", applied}});
    return 0;
}

}  // namespace

Group kernel_commands() {
    return Group{
        "kernel",
        "kernel-served exports (data path kernel): the kernel's nvmet, configured by nvmfd",
        {
            {{"kernel", "apply", "Apply to the kernel the differences nvmfd held back at start.", {}, {},
              "At start nvmfd leaves in place what hosts of kernel-served exports would notice and lists it\n"
              "in 'nvmfctl status' (\"kernel differs\"). This applies it now and prints what it applied;\n"
              "hosts of the objects that differ may reconnect."},
             apply},
        },
        "See docs/kernel-offload-design.md."};
}

}  // namespace nvmfd::cli
