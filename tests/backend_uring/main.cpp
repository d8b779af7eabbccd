// The uring backend tests. The binary doubles as the crash test's child
// process (re-executed with --uring-crash-child).
#define DOCTEST_CONFIG_IMPLEMENT
#include <cstdlib>
#include <doctest/doctest.h>
#include <string_view>

#include "core/runtime/log.hpp"
#include "tests/backend_uring/crash_child.hpp"

int main(int argc, char** argv) {
    using namespace nvmfd;
    if (argc == 5 && std::string_view(argv[1]) == test_uring::kCrashChildFlag) {
        log::set_level(log::Level::Error);
        // Asserts in the child have no doctest context to report to.
        doctest::Context ctx;
        ctx.setAsDefaultForAssertsOutOfTestCases();
        return test_uring::crash_child(argv[2], argv[3], std::atoi(argv[4]));
    }
    if (const char* level = std::getenv("NVMFD_LOG_LEVEL")) {
        if (auto l = log::parse_level(level)) log::set_level(*l);
    }
    doctest::Context ctx(argc, argv);
    return ctx.run();
}
