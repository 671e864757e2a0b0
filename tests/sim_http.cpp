// http::Server, http::StaticFiles and http::Client on simulated hosts: the
// files are on the site host's simulated disk; a file too large for the
// cache goes out by read and send (the simulation has no splice or
// sendfile); nothing here touches a real descriptor.
#include <string>

#include <corio/fs/dir.hpp>
#include <corio/fs/file.hpp>
#include <corio/http/client.hpp>
#include <corio/http/router.hpp>
#include <corio/http/server.hpp>
#include <corio/http/static_files.hpp>
#include <corio/runtime/cancel.hpp>

#include "sim_support.hpp"

namespace sim_http_test {

using namespace corio;
using namespace std::chrono_literals;

namespace {

std::string big_content() {
    std::string s(300 * 1000, '\0');
    for (std::size_t i = 0; i < s.size(); ++i)
        s[i] = char('a' + (i * 7 + i / 1000) % 26);
    return s;
}

Task<void> site(bool* ready, std::string* error) {
    const std::string big = big_content();
    auto d = co_await fs::create_directories("/www/dir");
    if (!d) {
        *error = "mkdir: " + d.error().message();
        co_return;
    }
    for (auto [path, text] :
         {std::pair<std::string, std::string_view>{"/www/small.html", "<p>hi</p>"},
          {"/www/dir/index.html", "index"},
          {"/www/big.txt", big}}) {
        auto w = co_await fs::write_file(path, text);
        if (!w) {
            *error = "write " + path + ": " + w.error().message();
            co_return;
        }
    }
    http::StaticOptions so;
    so.cache_max_file = 64 * 1024;  // big.txt is sent straight from the file
    auto files = http::StaticFiles::open("/www", so);
    if (!files) {
        *error = "open /www: " + files.error().message();
        co_return;
    }
    http::Router router;
    router.mount("/", *files);
    http::Server srv(router);
    auto l = net::TcpListener::bind(net::Address::any_v4(80));
    if (!l) {
        *error = "bind: " + l.error().message();
        co_return;
    }
    *ready = true;
    StopSource never;
    co_await srv.run(std::move(*l), never.token());
}

struct Got {
    int status = 0;
    std::string body;
    std::string location;
    std::string content_range;
    std::string error;
};

Task<Got> get(http::Client* c, std::string url, std::string range) {
    http::ClientRequest req;
    req.url = std::move(url);
    if (!range.empty()) req.headers = {{"Range", range}};
    auto r = co_await c->fetch(std::move(req));
    Got g;
    if (!r) {
        g.error = r.error().message();
        co_return g;
    }
    g.status = r->status;
    g.body = r->body;
    g.location = std::string(r->headers.get("Location").value_or(""));
    g.content_range = std::string(r->headers.get("Content-Range").value_or(""));
    co_return g;
}

}  // namespace

TEST_CASE("sim: StaticFiles serves files of a simulated disk; a large one by read and send",
          "[sim][http]") {
    const int fds0 = test::open_descriptors();
    sim::World w({.seed = 21});
    bool ready = false;
    std::string error;
    auto& server = w.add_host("site", [&] { return site(&ready, &error); });
    auto& client = w.add_host("client");
    REQUIRE(w.run_until([&] { return ready || !error.empty(); }, 10s));
    REQUIRE(error.empty());
    const std::string base = "http://" + server.ip();
    http::ClientOptions co;
    co.max_redirects = 0;
    http::Client c(co);
    Got small = w.block_on(client, get(&c, base + "/small.html", ""));
    Got big = w.block_on(client, get(&c, base + "/big.txt", ""));
    Got part = w.block_on(client, get(&c, base + "/big.txt", "bytes=1000-1999"));
    Got dir = w.block_on(client, get(&c, base + "/dir", ""));
    Got index = w.block_on(client, get(&c, base + "/dir/", ""));
    Got out = w.block_on(client, get(&c, base + "/../etc/passwd", ""));
    Got missing = w.block_on(client, get(&c, base + "/nope.html", ""));
    INFO(w.summary() << " errors: " << small.error << big.error << part.error);
    CHECK(small.status == 200);
    CHECK(small.body == "<p>hi</p>");
    CHECK(big.status == 200);
    CHECK(big.body == big_content());
    CHECK(part.status == 206);
    CHECK(part.body == big_content().substr(1000, 1000));
    CHECK(part.content_range == "bytes 1000-1999/300000");
    CHECK(dir.status == 301);
    CHECK(dir.location == "/dir/");
    CHECK(index.status == 200);
    CHECK(index.body == "index");
    CHECK(out.status != 200);
    CHECK(missing.status == 404);
    CHECK(test::open_descriptors() == fds0);
}

}  // namespace sim_http_test
