// The a{sv} options of Manager1 methods as the D-Bus service reads them
// into the control API's settings: values reach the settings, bad values
// are refused naming the option.
#include <doctest/doctest.h>

#include "dbus/call_options.hpp"

using namespace nvmfd;
using namespace nvmfd::dbus;

namespace {

// The error a refused reading names: "field: message".
template <typename T>
std::string refusal(const Result<T>& r) {
    REQUIRE_FALSE(r);
    CHECK(r.error().code == ErrorCode::InvalidArgument);
    return r.error().field + ": " + r.error().message;
}

}  // namespace

TEST_CASE("subsystem options: data_path and passthru_device reach the settings") {
    auto s = subsystem_settings({{"data_path", sdbus::Variant(std::string("kernel"))},
                                 {"passthru_device", sdbus::Variant(std::string("/dev/nvme0"))},
                                 {"serial", sdbus::Variant(std::string("PT1"))}},
                                SubsystemCall::Add);
    REQUIRE(s);
    CHECK(s->data_path == control::DataPath::Kernel);
    CHECK(s->passthru_device == "/dev/nvme0");
    CHECK(s->serial == "PT1");

    auto plain = subsystem_settings({}, SubsystemCall::Add);
    REQUIRE(plain);
    CHECK_FALSE(plain->data_path);  // the control's default
    CHECK_FALSE(plain->passthru_device);

    auto nvmfd_path = subsystem_settings({{"data_path", sdbus::Variant(std::string("nvmfd"))}}, SubsystemCall::Add);
    REQUIRE(nvmfd_path);
    CHECK(nvmfd_path->data_path == control::DataPath::Nvmfd);

    auto removal = subsystem_settings({{"passthru_device", sdbus::Variant(std::string())}}, SubsystemCall::Set);
    REQUIRE(removal);
    CHECK(removal->passthru_device == "");  // "" removes it
}

TEST_CASE("subsystem options: a bad data path is refused naming data_path; Set refuses any") {
    auto bad = subsystem_settings({{"data_path", sdbus::Variant(std::string("foo"))}}, SubsystemCall::Add);
    CHECK(refusal(bad) == "data_path: 'foo' is not nvmfd or kernel");
    auto wrong_type = subsystem_settings({{"data_path", sdbus::Variant(true)}}, SubsystemCall::Add);
    CHECK(refusal(wrong_type).starts_with("data_path: must be a string"));
    auto device_type = subsystem_settings({{"passthru_device", sdbus::Variant(uint32_t(0))}}, SubsystemCall::Add);
    CHECK(refusal(device_type).starts_with("passthru_device: must be a string"));
    auto change = subsystem_settings({{"data_path", sdbus::Variant(std::string("kernel"))}}, SubsystemCall::Set);
    CHECK(refusal(change).starts_with("data_path: is chosen when the subsystem is added"));
    // A bad value is named as bad even in Set, before the refusal to change.
    auto bad_set = subsystem_settings({{"data_path", sdbus::Variant(std::string("foo"))}}, SubsystemCall::Set);
    CHECK(refusal(bad_set) == "data_path: 'foo' is not nvmfd or kernel");
}

TEST_CASE("port options: data_path reaches the settings; a bad one is refused naming it") {
    control::PortSettings p;
    REQUIRE(read_port_options({{"data_path", sdbus::Variant(std::string("kernel"))}}, p));
    CHECK(p.data_path == control::DataPath::Kernel);

    control::PortSettings d;
    REQUIRE(read_port_options({}, d));
    CHECK(d.data_path == control::DataPath::Nvmfd);

    control::PortSettings b;
    CHECK(refusal(read_port_options({{"data_path", sdbus::Variant(std::string("Kernel"))}}, b)) ==
          "data_path: 'Kernel' is not nvmfd or kernel");
    CHECK(b.data_path == control::DataPath::Nvmfd);
}
