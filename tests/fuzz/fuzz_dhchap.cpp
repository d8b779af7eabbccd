// libFuzzer target: the controller's side of DH-HMAC-CHAP
// (core/auth/dhchap_transaction.cpp), the code Authentication Send and
// Receive feed. Any sequence of host messages and receives, under any
// allowed-hash/group settings, must end in a message, a FAILURE1 or a
// refused allocation length: never a crash, a leak or a read past the
// message.
//
// Input: one settings byte (bits 0-2: hashes allowed, bit 3: ffdhe2048
// allowed besides null, bit 4: a controller secret), then records of
//   [kind: 1 byte][length: 2 bytes LE][payload]
// kind even: Authentication Send of the payload; odd: Authentication
// Receive with AL = length. Groups stop at ffdhe2048 so that an execution
// stays fast (larger groups only cost more of the same OpenSSL code).
#include <cstdint>
#include <memory>
#include <span>

#include "core/auth/dhchap_transaction.hpp"

using namespace nvmfd;

namespace {

std::shared_ptr<const auth::DhchapSecret> secret(const char* text) {
    auto s = auth::DhchapSecret::parse(text, "fuzz");
    if (!s) __builtin_trap();
    return std::make_shared<auth::DhchapSecret>(std::move(*s));
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
    static auto host_key = secret("DHHC-1:01:a04E0in/h9rGUwyRPirk0EHWZb3S2iivAU0Om4iZUmeoR5Bg:");
    static auto ctrl_key = secret("DHHC-1:02:s1vPL9QPWpgaMKheaWXLag5gM9yMilZs0oiLPa5lt3RKjVeuHd5ZjNtAEmNRlOLsjS4dXg==:");
    if (size < 1) return 0;
    auth::DhchapSettings settings;
    settings.host_key = host_key;
    settings.ctrl_key = (data[0] & 0x10) ? ctrl_key : nullptr;
    settings.hashes = uint8_t((data[0] & 0x7) << 1);
    settings.groups = (data[0] & 0x8) ? 0b11 : 0b01;
    auth::DhchapTransaction t("nqn.2014-08.org.nvmexpress:uuid:00000000-0000-4000-8000-00000000f022",
                              "nqn.2026-11.io.nvmfd:fuzz");
    std::span<const uint8_t> in(data + 1, size - 1);
    while (in.size() >= 3) {
        uint8_t kind = in[0];
        size_t len = in[1] | size_t(in[2]) << 8;
        in = in.subspan(3);
        if (kind % 2 == 0) {
            len = std::min(len, in.size());
            // A copy of exactly the message: ASan sees any read past it.
            std::vector<uint8_t> message(in.begin(), in.begin() + len);
            t.on_send(message, settings);
            in = in.subspan(len);
        } else {
            auto out = t.on_receive(len);
            if (out && out->size() > len) __builtin_trap();  // never more than AL
        }
    }
    return 0;
}
