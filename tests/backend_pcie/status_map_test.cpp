// What a host is told for each kind of drive status (issue 13, acceptance 2).
#include <doctest/doctest.h>

#include <initializer_list>

#include "plugins/backend_pcie/status_map.hpp"

using nvmfd::plugins::pcie::map_drive_status;
using nvmfd::plugins::pcie::MappedStatus;
using nvmfd::proto::Status;
using nvmfd::proto::StatusCodeType;
namespace st = nvmfd::proto::status;

namespace {
// The CQE status word for SCT/SC, with DNR, CRD and More as given, phase 1.
uint16_t word(StatusCodeType sct, uint8_t sc, bool dnr, uint8_t crd = 0, bool more = false) {
    return uint16_t(1 | sc << 1 | uint16_t(sct) << 9 | (crd & 3) << 12 | (more ? 1 : 0) << 14 | (dnr ? 1 : 0) << 15);
}
}  // namespace

TEST_CASE("status map: success, media errors and data statuses pass with their DNR; CRD and More dropped") {
    CHECK(map_drive_status(1).host.ok());
    CHECK(map_drive_status(0).outcome == MappedStatus::Outcome::Done);
    auto m = map_drive_status(word(StatusCodeType::MediaError, 0x81, true, 2, true));  // Unrecovered Read Error
    CHECK(m.host == Status(StatusCodeType::MediaError, 0x81));
    CHECK(m.host.dnr());
    CHECK(m.host.cqe_status() == word(StatusCodeType::MediaError, 0x81, true) - 1);  // no CRD, no More, no phase
    CHECK_FALSE(m.nvmfd_fault);
    m = map_drive_status(word(StatusCodeType::MediaError, 0x80, false));  // Write Fault, retry allowed
    CHECK(m.host == Status(StatusCodeType::MediaError, 0x80));
    CHECK_FALSE(m.host.dnr());
    m = map_drive_status(word(StatusCodeType::Generic, 0x80, true));
    CHECK(m.host == st::kLbaOutOfRange);
    CHECK(m.host.dnr());
    m = map_drive_status(word(StatusCodeType::CommandSpecific, 0x82, true));  // write to a read-only range
    CHECK(m.host == Status(StatusCodeType::CommandSpecific, 0x82));
}

TEST_CASE("status map: a drive refusing nvmfd's command is Internal Error with DNR, and nvmfd's fault") {
    for (uint8_t sc : std::initializer_list<uint8_t>{0x01, 0x02, 0x0b, 0x13, 0x0d, 0x0f, 0x11, 0x16}) {
        auto m = map_drive_status(word(StatusCodeType::Generic, sc, false));
        CHECK(m.host == st::kInternalError);
        CHECK(m.host.dnr());
        CHECK(m.nvmfd_fault);
    }
    auto m = map_drive_status(word(StatusCodeType::CommandSpecific, 0x01, true));  // Invalid Queue Identifier
    CHECK(m.host == st::kInternalError);
    CHECK(m.nvmfd_fault);
    m = map_drive_status(word(StatusCodeType::Generic, 0x04, true));  // Data Transfer Error (IOMMU fault)
    CHECK(m.host == st::kInternalError);
    CHECK_FALSE(m.host.dnr());
    m = map_drive_status(word(StatusCodeType(7), 0x10, true));  // vendor specific
    CHECK(m.host == st::kInternalError);
    CHECK(m.host.dnr());
}

TEST_CASE("status map: nvmfd's own aborts are retried; the drive's path statuses send hosts elsewhere") {
    CHECK(map_drive_status(word(StatusCodeType::Generic, 0x07, false)).outcome == MappedStatus::Outcome::Retry);
    CHECK(map_drive_status(word(StatusCodeType::Generic, 0x08, false)).outcome == MappedStatus::Outcome::Retry);
    auto m = map_drive_status(word(StatusCodeType::PathRelated, 0x03, false));  // ANA transition (the drive's)
    CHECK(m.host == st::kNamespaceNotReady);
    CHECK_FALSE(m.host.dnr());
    m = map_drive_status(word(StatusCodeType::PathRelated, 0x02, true));  // ANA inaccessible (the drive's)
    CHECK(m.host == Status(StatusCodeType::PathRelated, 0x00));
    CHECK_FALSE(m.host.dnr());
}
