// libFuzzer target: the tcp transport's ClientHello reader
// (plugins/transport_tcp/tls_binder.cpp), which looks for a PSK identity's
// binder in what an unauthenticated client sent, before OpenSSL checks
// anything. Any bytes must end in "not found" or a binder that the check
// then compares (with either hash, whatever the binder's length): never a
// crash or a read past the message.
//
// Input: the ClientHello handshake message (with its 4-byte header), as
// OpenSSL's client writes it (seeds from make_seeds).
#include <cstdint>
#include <span>
#include <string_view>
#include <vector>

#include "plugins/transport_tcp/tls_binder.hpp"

using namespace nvmfd::plugins::tcp;

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
    std::span<const uint8_t> hello(data, size);
    for (std::string_view identity : {"NVMe0R01 nqn.host nqn.sub", "NVMe0R02 nqn.host nqn.sub"}) {
        auto b = find_psk_binder(hello, identity);
        if (!b) continue;
        static const std::vector<uint8_t> k32(32, 0x5a), k48(48, 0x5a);
        binder_matches(k32, false, *b);
        binder_matches(k48, true, *b);
    }
    return 0;
}
