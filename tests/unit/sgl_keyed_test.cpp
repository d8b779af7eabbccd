// Keyed SGL Data Block descriptors as an NVMe/RDMA host puts them on the
// wire: a 24-bit length whose high byte is the key's low byte, so reading
// the length as 32 bits is wrong (Linux: get_unaligned_le24 in
// nvmet_rdma_map_sgl_keyed).
#include <doctest/doctest.h>

#include <array>
#include <cstring>

#include "core/proto/nvme.hpp"

using namespace nvmfd::proto;

namespace {

// The 16 bytes of a descriptor, as they appear at SQE offset 24.
SglDescriptor from_bytes(const std::array<uint8_t, 16>& bytes) {
    SglDescriptor d;
    std::memcpy(&d, bytes.data(), sizeof d);
    return d;
}

}  // namespace

TEST_CASE("a keyed descriptor's length is 24 bits and its key the 4 bytes after them") {
    // address 0x1122334455667788, length 0x012000 (73728), key 0xa1b2c3d4,
    // type 0x4F (keyed, invalidate key), little-endian as on the wire.
    SglDescriptor d = from_bytes({0x88, 0x77, 0x66, 0x55, 0x44, 0x33, 0x22, 0x11,  //
                                  0x00, 0x20, 0x01, 0xd4, 0xc3, 0xb2, 0xa1, 0x4f});
    CHECK(d.address == 0x1122334455667788ull);
    CHECK(d.descriptor_type() == sgl::kKeyedDataBlock);
    CHECK(d.subtype() == sgl::kSubtypeInvalidateKey);
    CHECK(d.type == sgl::kKeyedInvalidate);
    CHECK(d.keyed_length() == 0x012000);
    CHECK(d.key() == 0xa1b2c3d4u);
    CHECK(sgl_data_length(d) == 0x012000);
    CHECK(d.length == 0xd4012000u);  // the trap: the key's low byte rides in the 32-bit field
}

TEST_CASE("the largest keyed length and an all-ones key do not bleed into each other") {
    SglDescriptor d = from_bytes({0, 0, 0, 0, 0, 0, 0, 0, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0x40});
    CHECK(d.keyed_length() == 0xffffff);
    CHECK(d.key() == 0xffffffffu);
    CHECK(sgl_data_length(d) == 0xffffff);
}

TEST_CASE("sgl_data_length reads the whole 32 bits of every other descriptor") {
    SglDescriptor in_capsule{};
    in_capsule.type = sgl::kInCapsule;
    in_capsule.length = 0x01000000;  // 16 MiB: beyond 24 bits
    CHECK(sgl_data_length(in_capsule) == 0x01000000u);

    SglDescriptor transport{};
    transport.type = sgl::kTransport;
    transport.length = 0xab001000;
    CHECK(sgl_data_length(transport) == 0xab001000u);
}

TEST_CASE("keyed_sgl builds what it reads back, byte for byte as a host sends it") {
    SglDescriptor d = keyed_sgl(0xfeedf00d, 4096, 0x0a0b0c0d);
    CHECK(d.type == sgl::kKeyed);
    CHECK(d.address == 0xfeedf00du);
    CHECK(d.keyed_length() == 4096);
    CHECK(d.key() == 0x0a0b0c0du);
    std::array<uint8_t, 16> bytes;
    std::memcpy(bytes.data(), &d, sizeof d);
    const std::array<uint8_t, 16> wire{0x0d, 0xf0, 0xed, 0xfe, 0, 0, 0, 0, 0x00, 0x10, 0x00, 0x0d, 0x0c, 0x0b, 0x0a, 0x40};
    CHECK(bytes == wire);

    CHECK(keyed_sgl(0, 512, 1, true).type == sgl::kKeyedInvalidate);
    // A length beyond 24 bits cannot be expressed: it is cut, never spilled into the key.
    CHECK(keyed_sgl(0, 0x1000000, 0x22).key() == 0x22u);
}

TEST_CASE("the null descriptor of a no-data command has length 0 and key 0") {
    // nvme_rdma_set_sg_null: type 0x40, everything else zero.
    SglDescriptor d = from_bytes({0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0x40});
    CHECK(d.type == sgl::kKeyed);
    CHECK(sgl_data_length(d) == 0);
    CHECK(d.key() == 0);
}
