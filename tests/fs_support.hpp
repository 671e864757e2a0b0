#pragma once
// Helpers shared by the fs tests.

#include <stdlib.h>

#include <filesystem>
#include <string>

#include "support.hpp"

namespace corio::test {

/// A fresh directory under /tmp, removed with everything in it.
struct TempDir {
    std::string path;
    TempDir() {
        char tmpl[] = "/tmp/corio-fs-XXXXXX";
        REQUIRE(::mkdtemp(tmpl) != nullptr);
        path = tmpl;
    }
    ~TempDir() {
        std::error_code ec;
        std::filesystem::remove_all(path, ec);
    }
    std::string operator/(const std::string& name) const { return path + "/" + name; }
};

}  // namespace corio::test

// Catch's REQUIRE may evaluate its expression more than once under GCC 12
// when it holds a co_await: await first, then check (and name the path).
#define REQUIRE_OK(...)                         \
    do {                                        \
        auto ok_result_ = co_await __VA_ARGS__; \
        INFO(ok_result_.describe());            \
        REQUIRE(ok_result_);                    \
    } while (0)
