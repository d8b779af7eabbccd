// A fake nvmet configfs tree for unit tests: a temporary directory reached
// through the real system calls, which also does what the kernel does there
// (docs/kernel-offload-design.md, seen on Debian's 6.12): mkdir fills a new
// subsystem, namespace, port, ANA group or host with its attributes and
// their defaults, rmdir takes them away again, and the refusals nvmet makes
// are made here too (a port attribute while the port is enabled: EACCES; a
// namespace's device while it is enabled: EBUSY; allow_any_host against
// allowed hosts: EINVAL; ...). On top, any operation on any path can be made
// to fail once with a given errno.
#pragma once

#include <cerrno>
#include <filesystem>
#include <fstream>
#include <map>
#include <set>
#include <stdlib.h>
#include <string>
#include <utility>

#include "plugins/nvmet_configfs/configfs.hpp"

namespace nvmfd::test {

enum class FsOp { MakeDir, RemoveDir, Write, Read, Link, Unlink, List };

class FakeConfigfsOps final : public plugins::nvmet::ConfigfsOps {
public:
    explicit FakeConfigfsOps(std::string root) : root_(std::move(root)), real_(plugins::nvmet::system_configfs_ops()) {}

    // The next `op` on `rel` (relative to the root) fails with `err`.
    void refuse(FsOp op, std::string rel, int err) { refusals_[{op, root_ + "/" + rel}] = err; }
    // Block devices and files a namespace or passthru may be enabled on.
    std::set<std::string> devices;
    // Subsystems a host has identified: their identity is locked (EINVAL).
    std::set<std::string> discovered;

    int make_dir(const std::string& p) override {
        return run(FsOp::MakeDir, p, [&] {
            if (int err = kernel_mkdir_check(rel(p))) return err;
            if (int err = real_->make_dir(p)) return err;
            populate(rel(p));
            return 0;
        });
    }
    int remove_dir(const std::string& p) override {
        return run(FsOp::RemoveDir, p, [&] {
            if (int err = kernel_rmdir_check(rel(p))) return err;
            std::error_code ec;
            std::filesystem::remove_all(p, ec);  // configfs takes the attributes with it
            return ec ? ec.value() : 0;
        });
    }
    int write_attr(const std::string& p, std::string_view v) override {
        return run(FsOp::Write, p, [&] {
            if (!std::filesystem::is_regular_file(p)) return ENOENT;
            std::string value(v);
            while (!value.empty() && value.back() == '\n') value.pop_back();
            int check = kernel_write_check(rel(p), value);
            if (check == kIgnored) return 0;
            if (check) return check;
            if (p.ends_with("/attr_serial")) value.resize(20, ' ');  // nvmet pads it
            std::ofstream(p) << value << '\n';
            return 0;
        });
    }
    int read_attr(const std::string& p, std::string& v) override {
        return run(FsOp::Read, p, [&] { return real_->read_attr(p, v); });
    }
    int make_link(const std::string& t, const std::string& l) override {
        return run(FsOp::Link, l, [&] {
            if (int err = kernel_link_check(rel(l))) return err;
            return real_->make_link(t, l);
        });
    }
    int remove_link(const std::string& l) override { return run(FsOp::Unlink, l, [&] { return real_->remove_link(l); }); }
    int list_dir(const std::string& p, std::vector<std::string>& n) override {
        return run(FsOp::List, p, [&] { return real_->list_dir(p, n); });
    }
    bool exists(const std::string& p) override { return real_->exists(p); }

    // What an attribute holds now (without the newline), for tests.
    std::string value(const std::string& r) const {
        std::ifstream in(root_ + "/" + r);
        std::string s;
        std::getline(in, s);
        return s;
    }

private:
    using Path = std::filesystem::path;
    static constexpr int kIgnored = -1;  // the write "succeeds" and changes nothing

    std::string rel(const std::string& p) const { return p.substr(root_.size() + 1); }
    std::vector<std::string> parts(const std::string& r) const {
        std::vector<std::string> out;
        for (const auto& x : Path(r)) out.push_back(x.string());
        return out;
    }
    bool has_entries(const std::string& r) const {
        std::error_code ec;
        return std::filesystem::exists(root_ + "/" + r, ec) &&
               std::filesystem::directory_iterator(root_ + "/" + r) != std::filesystem::directory_iterator();
    }
    void file(const std::string& r, const std::string& v) { std::ofstream(root_ + "/" + r) << v << '\n'; }
    void dir(const std::string& r) { std::filesystem::create_directories(root_ + "/" + r); }
    static bool number_in(const std::string& s, unsigned long long lo, unsigned long long hi) {
        if (s.empty() || s.size() > 20 || s.find_first_not_of("0123456789") != std::string::npos) return false;
        unsigned long long v = std::stoull(s);
        return v >= lo && v <= hi;
    }

    int kernel_mkdir_check(const std::string& r) const {
        auto q = parts(r);
        if (q.size() == 4 && q[0] == "subsystems" && q[2] == "namespaces" && !number_in(q[3], 1, 4294967294ull))
            return EINVAL;
        if (q.size() == 2 && q[0] == "ports" && !number_in(q[1], 0, 65535)) return EINVAL;
        if (q.size() == 4 && q[0] == "ports" && q[2] == "ana_groups" && q[3] != "1" && !number_in(q[3], 2, 128))
            return EINVAL;
        const bool allowed = (q.size() == 2 && (q[0] == "subsystems" || q[0] == "ports" || q[0] == "hosts")) ||
                             (q.size() == 4 && q[0] == "subsystems" && q[2] == "namespaces") ||
                             (q.size() == 4 && q[0] == "ports" && q[2] == "ana_groups");
        return allowed ? 0 : EPERM;
    }
    void populate(const std::string& r) {
        auto q = parts(r);
        if (q.size() == 2 && q[0] == "subsystems") {
            for (auto [n, v] : {std::pair{"attr_allow_any_host", "0"}, {"attr_model", "Linux"}, {"attr_version", "1.3"},
                                {"attr_cntlid_min", "1"}, {"attr_cntlid_max", "65519"}, {"attr_qid_max", "128"},
                                {"attr_pi_enable", "0"}})
                file(r + "/" + n, v);
            file(r + "/attr_serial", "5d1f7c2a9b3e4f60a1b2");
            dir(r + "/allowed_hosts");
            dir(r + "/namespaces");
            dir(r + "/passthru");
            file(r + "/passthru/device_path", "(null)");
            file(r + "/passthru/enable", "0");
        } else if (q.size() == 4 && q[2] == "namespaces") {
            for (auto [n, v] : {std::pair{"device_path", "(null)"}, {"device_uuid", "0c6e1d4a-3f2b-4a5c-9d8e-7f6a5b4c3d2e"},
                                {"device_nguid", "00000000-0000-0000-0000-000000000000"}, {"buffered_io", "0"},
                                {"ana_grpid", "1"}, {"enable", "0"}})
                file(r + "/" + n, v);
        } else if (q.size() == 2 && q[0] == "ports") {
            for (auto [n, v] : {std::pair{"addr_trtype", ""}, {"addr_adrfam", ""}, {"addr_traddr", ""},
                                {"addr_trsvcid", ""}, {"addr_treq", "not specified"}, {"param_inline_data_size", "-1"}})
                file(r + "/" + n, v);
            dir(r + "/subsystems");
            dir(r + "/referrals");
            dir(r + "/ana_groups/1");
            file(r + "/ana_groups/1/ana_state", "optimized");
        } else if (q.size() == 4 && q[2] == "ana_groups") {
            file(r + "/ana_state", "inaccessible");
        } else if (q.size() == 2 && q[0] == "hosts") {
            for (auto [n, v] : {std::pair{"dhchap_key", ""}, {"dhchap_ctrl_key", ""}, {"dhchap_hash", "hmac(sha256)"},
                                {"dhchap_dhgroup", "null"}})
                file(r + "/" + n, v);
        }
    }
    int kernel_rmdir_check(const std::string& r) const {
        auto q = parts(r);
        if (q.size() == 2 && q[0] == "subsystems") {
            for (const auto& port : std::filesystem::directory_iterator(root_ + "/ports"))
                if (std::filesystem::is_symlink(port.path() / "subsystems" / q[1])) return EBUSY;
            if (has_entries(r + "/namespaces") || has_entries(r + "/allowed_hosts")) return ENOTEMPTY;
        } else if (q.size() == 2 && q[0] == "ports") {
            if (has_entries(r + "/subsystems")) return ENOTEMPTY;
            for (const auto& g : std::filesystem::directory_iterator(root_ + "/" + r + "/ana_groups"))
                if (g.path().filename() != "1") return ENOTEMPTY;
        } else if (q.size() == 4 && q[2] == "ana_groups" && q[3] == "1") {
            return EPERM;
        } else if (q.size() == 2 && q[0] == "hosts") {
            for (const auto& s : std::filesystem::directory_iterator(root_ + "/subsystems"))
                if (std::filesystem::is_symlink(s.path() / "allowed_hosts" / q[1])) return EBUSY;
        }
        return std::filesystem::exists(root_ + "/" + r) ? 0 : ENOENT;
    }
    int kernel_write_check(const std::string& r, const std::string& v) const {
        auto q = parts(r);
        const std::string& attr = q.back();
        if (q[0] == "ports" && q.size() == 3 && (attr.starts_with("addr_") || attr.starts_with("param_"))) {
            if (has_entries("ports/" + q[1] + "/subsystems")) return EACCES;  // even the same value
            static const std::set<std::string> trtypes{"tcp", "rdma", "fc", "loop"},
                adrfams{"pcie", "ipv4", "ipv6", "ib", "fc", "loop"};
            if (attr == "addr_trtype") return trtypes.count(v) ? 0 : EINVAL;
            if (attr == "addr_adrfam") return adrfams.count(v) ? 0 : EINVAL;
            if (attr == "addr_traddr" || attr == "addr_trsvcid") return v.empty() ? EINVAL : 0;
            return 0;
        }
        if (q[0] == "ports" && attr == "ana_state") {
            static const std::set<std::string> states{"optimized", "non-optimized", "inaccessible", "persistent-loss",
                                                      "change"};
            return states.count(v) ? 0 : EINVAL;
        }
        if (q[0] != "subsystems") return 0;
        const std::string sub = "subsystems/" + q[1];
        if (q.size() == 5 && q[2] == "namespaces") {
            const std::string ns = sub + "/namespaces/" + q[3];
            const bool enabled = value(ns + "/enable") == "1";
            if (attr == "device_path" || attr == "device_uuid" || attr == "device_nguid") return enabled ? EBUSY : 0;
            if (attr == "buffered_io") return enabled ? EINVAL : 0;
            if (attr == "ana_grpid") return number_in(v, 1, 128) ? 0 : EINVAL;
            if (attr == "enable" && v == "1") {
                if (value(ns + "/device_path") == "(null)") return EINVAL;
                if (!devices.count(value(ns + "/device_path"))) return ENOENT;
                // nvmet: accepted, and nothing happens (enable reads back 0).
                if (value(sub + "/passthru/enable") == "1") return kIgnored;
            }
            return 0;
        }
        if (q.size() == 4 && q[2] == "passthru") {
            const bool on = value(sub + "/passthru/enable") == "1";
            if (attr == "device_path") return on ? EBUSY : 0;
            if (attr == "enable" && v == "1") {
                if (on) return EINVAL;
                if (!devices.count(value(sub + "/passthru/device_path"))) return ENOENT;
                for (const auto& n : std::filesystem::directory_iterator(root_ + "/" + sub + "/namespaces"))
                    if (value(sub + "/namespaces/" + n.path().filename().string() + "/enable") == "1") return EINVAL;
            }
            return 0;
        }
        if (attr == "attr_serial" || attr == "attr_model") return discovered.count(q[1]) ? EINVAL : 0;
        if (attr == "attr_allow_any_host") {
            if (v != "0" && v != "1") return EINVAL;
            return v == "1" && has_entries(sub + "/allowed_hosts") ? EINVAL : 0;
        }
        if (attr == "attr_cntlid_min" || attr == "attr_cntlid_max") {
            if (!number_in(v, 1, 65535)) return EINVAL;
            const unsigned long long n = std::stoull(v);
            if (attr == "attr_cntlid_min" && n > std::stoull(value(sub + "/attr_cntlid_max"))) return EINVAL;
            if (attr == "attr_cntlid_max" && n < std::stoull(value(sub + "/attr_cntlid_min"))) return EINVAL;
        }
        return 0;
    }
    int kernel_link_check(const std::string& r) const {
        auto q = parts(r);
        if (q.size() == 4 && q[0] == "subsystems" && q[2] == "allowed_hosts")
            return value("subsystems/" + q[1] + "/attr_allow_any_host") == "1" ? EINVAL : 0;
        if (q.size() == 4 && q[0] == "ports" && q[2] == "subsystems") {
            const std::string port = "ports/" + q[1];
            if (value(port + "/addr_trtype").empty()) return EINVAL;  // no transport
            for (const auto& other : std::filesystem::directory_iterator(root_ + "/ports")) {
                const std::string o = "ports/" + other.path().filename().string();
                if (o == port || !has_entries(o + "/subsystems")) continue;
                if (value(o + "/addr_trtype") == value(port + "/addr_trtype") &&
                    value(o + "/addr_traddr") == value(port + "/addr_traddr") &&
                    value(o + "/addr_trsvcid") == value(port + "/addr_trsvcid"))
                    return EADDRINUSE;
            }
            return 0;
        }
        return EPERM;
    }

    template <typename F>
    int run(FsOp op, const std::string& path, F real) {
        auto it = refusals_.find({op, path});
        if (it != refusals_.end()) {
            int err = it->second;
            refusals_.erase(it);
            return err;
        }
        return real();
    }
    std::string root_;
    std::unique_ptr<plugins::nvmet::ConfigfsOps> real_;
    std::map<std::pair<FsOp, std::string>, int> refusals_;
};

// A temporary directory standing for /sys/kernel/config/nvmet, with the
// three directories the nvmet module creates, and a Configfs over it.
struct FakeNvmetTree {
    std::filesystem::path root;
    FakeConfigfsOps* ops = nullptr;  // owned by `fs`
    std::unique_ptr<plugins::nvmet::Configfs> fs;

    FakeNvmetTree() {
        char tmpl[] = "/tmp/nvmfd-configfs-XXXXXX";
        root = ::mkdtemp(tmpl);
        for (const char* d : {"subsystems", "ports", "hosts"}) std::filesystem::create_directory(root / d);
        auto o = std::make_unique<FakeConfigfsOps>(root.string());
        ops = o.get();
        fs = std::make_unique<plugins::nvmet::Configfs>(root.string() + "/", std::move(o));
    }
    ~FakeNvmetTree() { std::filesystem::remove_all(root); }
};

}  // namespace nvmfd::test
