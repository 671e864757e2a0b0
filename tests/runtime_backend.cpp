// Backend choice and the backend report.
#include <cstdlib>

#include "support.hpp"

namespace runtime_backend_test {

using namespace corio;

TEST_CASE("parse_backend accepts the documented names", "[backend]") {
    CHECK(parse_backend("auto") == BackendChoice::automatic);
    CHECK(parse_backend("io_uring") == BackendChoice::io_uring);
    CHECK(parse_backend("uring") == BackendChoice::io_uring);
    CHECK(parse_backend("epoll") == BackendChoice::epoll);
    CHECK_FALSE(parse_backend("kqueue"));
    CHECK_FALSE(parse_backend(""));
}

TEST_CASE("the loop runs on the backend CORIO_BACKEND names", "[backend]") {
    Loop loop(test::options());
    auto env = backend_from_env();
    if (env == BackendChoice::epoll) CHECK(loop.kind() == BackendKind::epoll);
    if (env == BackendChoice::io_uring) CHECK(loop.kind() == BackendKind::io_uring);
    std::string d = loop.report().describe();
    CHECK(d.find(std::string("backend: ") + std::string(to_string(loop.kind()))) !=
          std::string::npos);
    CHECK_FALSE(loop.report().reason.empty());
}

TEST_CASE("an explicit choice wins over CORIO_BACKEND", "[backend]") {
    LoopOptions o;
    o.backend = BackendChoice::epoll;
    Loop loop(o);
    CHECK(loop.kind() == BackendKind::epoll);
    CHECK(loop.report().reason == "requested");
}

TEST_CASE("the io_uring report lists the probed features", "[backend]") {
    LoopOptions o;
    o.backend = BackendChoice::automatic;
    o.use_env = false;
    Loop loop(o);
    if (loop.kind() != BackendKind::io_uring) {
        WARN("io_uring unavailable here: " << loop.report().uring_error);
        return;
    }
    std::string d = loop.report().describe();
    for (const char* k : {"setup flags:", "multishot accept:", "provided buffer rings:",
                          "MSG_RING:", "linked timeouts:"}) {
        CHECK(d.find(k) != std::string::npos);
    }
    CHECK(loop.caps().has_op(IORING_OP_NOP));
}

}  // namespace runtime_backend_test
