// A simulated drive behind the simulated queue pair: it executes the
// commands it takes against a RAM disk, reaching host memory through PRPs
// or SGLs the way a drive does (IOVAs translated through the test's mappings), and
// answers errors where the test says. With SimQueuePair it plays a whole
// NVMe drive's I/O side for the PCIe backend's unit tests.
#pragma once

#include <cstdint>
#include <cstring>
#include <functional>
#include <map>
#include <vector>

#include "core/proto/nvme.hpp"
#include "plugins/backend_pcie/drive_commands.hpp"
#include "tests/backend_pcie/prp_walk.hpp"
#include "tests/backend_pcie/sgl_walk.hpp"
#include "tests/backend_pcie/sim_controller.hpp"

namespace nvmfd::test {

struct SimDrive {
    SimQueuePair q;
    uint32_t block_size;
    std::vector<uint8_t> disk;
    std::map<uint64_t, std::pair<uint8_t*, uint64_t>> mappings;  // iova -> host memory, length
    uint32_t page_size = 4096;
    std::function<uint16_t(uint64_t lba, uint32_t blocks, bool write)> media_error = [](uint64_t, uint32_t, bool) {
        return uint16_t(0);
    };
    uint64_t commands = 0;
    bool takes_sgls = true;  // else a command with PSDT 01 is an Invalid Field
    uint64_t prp_commands = 0, sgl_commands = 0;  // data commands by how they described their data

    SimDrive(uint16_t entries, uint32_t block, uint64_t blocks) : q(entries), block_size(block), disk(block * blocks) {
        q.status_for = [this](const proto::Sqe& s) { return execute(s); };
    }

    void map(uint64_t iova, void* p, uint64_t len) { mappings[iova] = {static_cast<uint8_t*>(p), len}; }
    uint8_t* at(uint64_t iova, uint64_t len) {
        auto it = mappings.upper_bound(iova);
        if (it == mappings.begin()) return nullptr;
        --it;
        if (iova + len > it->first + it->second.second) return nullptr;
        return it->second.first + (iova - it->first);
    }

    // The host memory a command's data pointer describes, as (pointer,
    // length) pieces: PRPs (PSDT 00), or an SGL (PSDT 01) when the drive
    // takes them. Empty, with the drive's status in `bad`, when it is bad.
    std::vector<std::pair<uint8_t*, uint64_t>> walk(const proto::Sqe& s, uint64_t len, uint16_t& bad) {
        std::vector<plugins::pcie::DmaSegment> pieces;
        if (s.psdt() == 0) {
            ++prp_commands;
            auto prps = walk_prps(plugins::pcie::prp1_of(s), plugins::pcie::prp2_of(s), len, page_size,
                                  [this](uint64_t iova) { return reinterpret_cast<const uint64_t*>(at(iova, 8)); });
            if (!prps) return bad = 0x013, std::vector<std::pair<uint8_t*, uint64_t>>{};  // PRP Offset Invalid
            pieces = std::move(*prps);
        } else {
            if (s.psdt() != 1 || !takes_sgls) return bad = 0x002, std::vector<std::pair<uint8_t*, uint64_t>>{};
            ++sgl_commands;
            SglWalk w = walk_sgl(s.sgl, len, [this](uint64_t iova, uint64_t n) {
                return reinterpret_cast<const proto::SglDescriptor*>(at(iova, n));
            });
            if (w.status) return bad = w.status, std::vector<std::pair<uint8_t*, uint64_t>>{};
            pieces = std::move(w.data);
        }
        std::vector<std::pair<uint8_t*, uint64_t>> out;
        for (const auto& p : pieces) {
            uint8_t* host = at(p.iova, p.len);
            if (!host) return bad = 0x006, std::vector<std::pair<uint8_t*, uint64_t>>{};  // Internal Error: a bad address
            out.emplace_back(host, p.len);
        }
        return out;
    }

    uint16_t execute(const proto::Sqe& s) {
        ++commands;
        const uint64_t lba = s.cdw10 | uint64_t(s.cdw11) << 32;
        const uint32_t blocks = (s.cdw12 & 0xffff) + 1;
        const uint64_t nblocks = disk.size() / block_size;
        switch (s.opcode) {
        case 0x01:  // write
        case 0x02: {  // read
            if (lba + blocks > nblocks) return 0x080;  // LBA Out of Range
            if (uint16_t e = media_error(lba, blocks, s.opcode == 0x01)) return e;
            uint16_t bad = 0;
            auto pieces = walk(s, uint64_t(blocks) * block_size, bad);
            if (pieces.empty()) return bad;
            uint8_t* d = disk.data() + lba * block_size;
            for (auto [p, n] : pieces) {
                if (s.opcode == 0x01) std::memcpy(d, p, n); else std::memcpy(p, d, n);
                d += n;
            }
            return 0;
        }
        case 0x08:  // write zeroes
            if (lba + blocks > nblocks) return 0x080;
            std::memset(disk.data() + lba * block_size, 0, uint64_t(blocks) * block_size);
            return 0;
        case 0x09: {  // dataset management: deallocate reads back zeroes here
            const uint32_t ranges = (s.cdw10 & 0xff) + 1;
            auto* list = reinterpret_cast<proto::DsmRange*>(at(plugins::pcie::prp1_of(s), ranges * 16ull));
            if (!list) return 0x013;
            for (uint32_t i = 0; i < ranges; ++i) {
                if (list[i].slba + list[i].nlb > nblocks) return 0x080;
                std::memset(disk.data() + list[i].slba * block_size, 0, uint64_t(list[i].nlb) * block_size);
            }
            return 0;
        }
        case 0x00:  // flush
            return 0;
        default:
            return 0x001;  // Invalid Opcode
        }
    }
};

}  // namespace nvmfd::test
