#include <doctest/doctest.h>

#include <filesystem>
#include <fstream>
#include <sstream>
#include <sys/stat.h>
#include <unistd.h>

#include "core/control/state_store.hpp"

using nvmfd::control::StateStore;
namespace fs = std::filesystem;

namespace {

struct TempDir {
    fs::path path;
    TempDir() {
        char tmpl[] = "/tmp/nvmfd-store-XXXXXX";
        path = mkdtemp(tmpl);
    }
    ~TempDir() { fs::remove_all(path); }
};

std::string slurp(const fs::path& p) {
    std::ifstream in(p);
    std::stringstream ss;
    ss << in.rdbuf();
    return ss.str();
}

}  // namespace

TEST_CASE("a missing state file reads as nothing") {
    TempDir d;
    StateStore store(d.path / "state.json");
    auto r = store.read();
    REQUIRE(r);
    CHECK_FALSE(r->has_value());
}

TEST_CASE("writes replace the file and keep the previous version as .bak") {
    TempDir d;
    StateStore store(d.path / "state.json");
    REQUIRE(store.write("one"));
    CHECK(slurp(store.path()) == "one");
    REQUIRE(store.write("two"));
    CHECK(slurp(store.path()) == "two");
    CHECK(slurp(store.backup_path()) == "one");
    CHECK_FALSE(fs::exists(d.path / "state.json.tmp"));
    struct stat st;
    REQUIRE(stat(store.path().c_str(), &st) == 0);
    CHECK((st.st_mode & 0777) == 0600);  // may hold host NQNs: not world readable
}

TEST_CASE("the state directory is created on first write, private") {
    TempDir d;
    StateStore store(d.path / "missing" / "state.json");
    REQUIRE(store.write("x"));
    CHECK(slurp(store.path()) == "x");
    struct stat st;
    REQUIRE(stat((d.path / "missing").c_str(), &st) == 0);
    CHECK((st.st_mode & 0777) == 0700);
}

TEST_CASE("a write that cannot happen fails with the path in the message") {
    TempDir d;
    std::ofstream(d.path / "file") << "not a directory";
    StateStore store(d.path / "file" / "state.json");
    auto r = store.write("x");
    REQUIRE_FALSE(r);
    CHECK(r.error().message.find("file") != std::string::npos);
}

TEST_CASE("a symlink planted as the temp file neither redirects the write nor becomes the state file") {
    TempDir d;
    StateStore store(d.path / "state.json");
    REQUIRE(store.write("one"));
    auto victim = d.path / "victim";
    std::ofstream(victim) << "precious";
    fs::create_symlink(victim, d.path / "state.json.tmp");
    REQUIRE(store.write("two"));
    CHECK(slurp(victim) == "precious");
    CHECK_FALSE(fs::is_symlink(store.path()));
    CHECK(fs::is_regular_file(fs::symlink_status(store.path())));
    CHECK(slurp(store.path()) == "two");
    CHECK_FALSE(fs::exists(fs::symlink_status(d.path / "state.json.tmp")));
}

TEST_CASE("a temp file left by a crash is replaced, not appended to or followed") {
    TempDir d;
    StateStore store(d.path / "state.json");
    std::ofstream(d.path / "state.json.tmp") << "half written garbage from a crash, longer than the new state";
    REQUIRE(store.write("new"));
    CHECK(slurp(store.path()) == "new");
}
