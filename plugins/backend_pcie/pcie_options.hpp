// A pcie namespace's parameters (`nvmfctl namespace add ... --backend pcie
// --param device=0000:3b:00.0 --param nsid=1`), checked without touching
// the device: what Backend::check() runs for dry runs, and the first thing
// open() does.
#pragma once

#include <chrono>
#include <cstdint>
#include <string>

#include "core/plugin/params.hpp"
#include "core/runtime/error.hpp"

namespace nvmfd::plugins::pcie {

// A drive setting nvmfd chooses by default (auto) or the admin forces.
enum class AutoOnOff { Auto, On, Off };
using InterruptMode = AutoOnOff;  // MSI-X completions (auto: unless the reactor busy-polls)
using SglMode = AutoOnOff;        // SGLs (auto: for large pieces, when the drive takes them; sgl.hpp)
const char* auto_on_off_name(AutoOnOff v);

struct PcieOptions {
    std::string device;             // PCI address, normalized: "0000:3b:00.0"
    uint32_t nsid = 1;              // the drive's namespace
    uint16_t queue_depth = 256;     // entries per I/O queue (at most the drive's MQES + 1)
    std::chrono::milliseconds io_timeout{10000};
    InterruptMode interrupts = InterruptMode::Auto;
    SglMode sgl = SglMode::Auto;
};

Result<PcieOptions> parse_pcie_options(const plugin::Params& params);

// "3b:00.0" or "0000:3B:00.0" -> "0000:3b:00.0"; an error names `field`.
Result<std::string> normalize_pci_address(std::string_view text, std::string_view field = "device");

}  // namespace nvmfd::plugins::pcie
