// What (nearly) every test includes, precompiled once per build directory by make_pch.py and
// put before each test's own code with -include (GCC only; see tests/meson.build). A test
// must still include what it uses: without the precompiled header (-Dtest_pch=false, clang)
// this file is not included at all.
#include <algorithm>
#include <array>
#include <atomic>
#include <chrono>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <thread>
#include <vector>

#include <catch2/catch.hpp>

#include <corio/corio.hpp>
