// Fibre Channel transport addresses as NVMe over FC spells them (nvme-cli,
// nvmet-fc, the discovery log): "nn-0x<WWNN>:pn-0x<WWPN>", each name 16 hex
// digits. nvmfd serves FC through the kernel's nvmet-fc only (the HBA's
// target mode lives in its kernel driver); this is the part nvmfd checks
// and writes (docs/kernel-offload.md).
#pragma once

#include <cstdint>
#include <string>
#include <string_view>

#include "core/runtime/error.hpp"

namespace nvmfd::plugins::fc {

struct FcAddress {
    uint64_t wwnn = 0;  // world wide node name
    uint64_t wwpn = 0;  // world wide port name
    bool operator==(const FcAddress&) const = default;
};

// Accepts nvme-cli's spelling in either case; the error names `field` and
// says what is wrong.
Result<FcAddress> parse_fc_address(std::string_view text, std::string_view field = "address");

// "nn-0x10001100ab000001:pn-0x20001100ab000001": lower case, 16 digits each,
// as nvmet shows it back and nvme-cli prints it.
std::string format_fc_address(const FcAddress& a);

}  // namespace nvmfd::plugins::fc
