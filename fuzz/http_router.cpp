// Fuzz target for Router::match: the input is "METHOD path". Checks that every
// answer is a handler or one of 404/405/501, that a 405 names the methods
// allowed, that captures and the subpath are parts of the path, and that the
// same question gets the same answer. Any violation calls abort().
#include <corio/http/router.hpp>

#include <cstddef>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <string>
#include <string_view>

using namespace corio;
using namespace corio::http;

namespace {

void require(bool ok, const char* what) {
    if (!ok) {
        std::fprintf(stderr, "invariant violated: %s\n", what);
        std::abort();
    }
}

// Matching never calls a handler: empty ones do (and keep coroutines out of
// this target, which clang 14 cannot instrument here).
const Handler none;

const Router& router() {
    static const Router r = [] {
        Router x;
        x.get("/", none).get("/a/b", none).get("/users/{id}", none);
        x.post("/users/{id}/posts/{post}", none).put("/users/{id}", none);
        x.route("BREW", "/pot/{kind}", none);
        x.mount("/static", none).mount("/api/", none, "GET,POST,DELETE");
        return x;
    }();
    return r;
}

bool inside(std::string_view part, std::string_view whole) {
    return part.empty() || (part.data() >= whole.data() &&
                            part.data() + part.size() <= whole.data() + whole.size());
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
    std::string_view in(reinterpret_cast<const char*>(data), size);
    std::size_t sp = in.find(' ');
    std::string_view method = in.substr(0, sp);
    std::string_view path = sp == std::string_view::npos ? std::string_view() : in.substr(sp + 1);
    std::vector<Param> params;
    RouteMatch m = router().match(method, path, params);
    if (m.handler == nullptr) {
        require(m.status == 404 || m.status == 405 || m.status == 501, "status");
        require(params.empty(), "captures without a match");
        if (m.status == 405) require(!m.allow.empty(), "405 without Allow");
    } else {
        require(m.status == 0, "status with a handler");
        // The subpath is a part of the path, or "/" for the prefix itself.
        require(m.subpath == "/" || inside(m.subpath, path), "subpath outside the path");
        require(!m.subpath.empty() || path.empty(), "empty subpath");
        for (const Param& p : params) {
            require(!p.value.empty(), "empty capture");
            require(inside(p.value, path), "capture outside the path");
            require(p.value.find('/') == std::string_view::npos, "capture spans segments");
        }
    }
    std::vector<Param> again;
    RouteMatch m2 = router().match(method, path, again);
    require(m2.handler == m.handler && m2.status == m.status && m2.allow == m.allow &&
                again.size() == params.size(),
            "not deterministic");
    return 0;
}
