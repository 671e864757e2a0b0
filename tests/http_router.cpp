// Router::match: literals, captures, mounts, order, 404, 405 with Allow, 501, fallback.
#include <catch2/catch.hpp>

#include <corio/http/router.hpp>
#include <corio/runtime/loop.hpp>

namespace http_router_test {

using namespace corio;

namespace {

Task<http::Response> nothing(http::Request&) {
    co_return http::Response(200);
}

struct Probe {
    http::Router r;
    std::vector<http::Param> params;
    http::RouteMatch m;
    const http::RouteMatch& operator()(std::string_view method, std::string_view path) {
        m = r.match(method, path, params);
        return m;
    }
};

}  // namespace

TEST_CASE("router: literal segments and captures", "[http][router]") {
    Probe p;
    p.r.get("/", nothing).get("/a/b", nothing).get("/users/{id}", nothing);
    p.r.post("/users/{id}/posts/{post}", nothing);
    CHECK(p("GET", "/").handler != nullptr);
    CHECK(p("GET", "/a/b").handler != nullptr);
    CHECK(p("GET", "/a/b/").status == 404);  // a trailing slash is a segment of its own
    CHECK(p("GET", "/a").status == 404);
    CHECK(p("GET", "/A/b").status == 404);  // literals match exactly
    REQUIRE(p("GET", "/users/42").handler != nullptr);
    REQUIRE(p.params.size() == 1);
    CHECK(p.params[0].name == "id");
    CHECK(p.params[0].value == "42");
    CHECK(p("GET", "/users/").status == 404);  // a capture is never empty
    CHECK(p("GET", "/users/4/2").status == 404);
    REQUIRE(p("POST", "/users/7/posts/x%20y").handler != nullptr);
    REQUIRE(p.params.size() == 2);
    CHECK(p.params[1].name == "post");
    CHECK(p.params[1].value == "x%20y");  // as sent
    CHECK(p("GET", "").status == 404);    // asterisk or authority form
}

TEST_CASE("router: 405 names what the path allows; 501 for unknown methods", "[http][router]") {
    Probe p;
    p.r.get("/x", nothing).put("/x", nothing).post("/y", nothing);
    CHECK(p("HEAD", "/x").handler != nullptr);  // GET answers HEAD
    CHECK(p("DELETE", "/x").status == 405);
    CHECK(p.m.allow == "GET, HEAD, PUT");
    CHECK(p("GET", "/y").status == 405);
    CHECK(p.m.allow == "POST");
    CHECK(p("BREW", "/x").status == 501);
    CHECK(p("BREW", "/nowhere").status == 501);
    CHECK(p("PATCH", "/nowhere").status == 404);
    // A route for a non-standard method makes it known.
    p.r.route("BREW", "/pot", nothing);
    CHECK(p("BREW", "/pot").handler != nullptr);
    CHECK(p("BREW", "/x").status == 405);
}

TEST_CASE("router: mounts, first match wins, fallback", "[http][router]") {
    Probe p;
    p.r.get("/static/special", nothing);
    p.r.mount("/static/", nothing);
    p.r.mount("/api", nothing, "GET, POST");
    REQUIRE(p("GET", "/static/a/b.css").handler != nullptr);
    CHECK(p.m.subpath == "/a/b.css");
    REQUIRE(p("GET", "/static").handler != nullptr);
    CHECK(p.m.subpath == "/");
    REQUIRE(p("GET", "/static/").handler != nullptr);
    CHECK(p.m.subpath == "/");
    CHECK(p("GET", "/staticx").status == 404);
    CHECK(p("POST", "/static/a").status == 405);
    CHECK(p.m.allow == "GET, HEAD");
    CHECK(p("POST", "/api/v1").handler != nullptr);
    CHECK(p("PUT", "/api/v1").status == 405);
    CHECK(p.m.allow == "GET, HEAD, POST");
    const http::Handler* special = p("GET", "/static/special").handler;
    const http::Handler* mount = p("GET", "/static/other").handler;
    CHECK(special != mount);  // the route added first wins

    Probe root;
    root.r.mount("/", nothing);
    REQUIRE(root("GET", "/any/thing").handler != nullptr);
    CHECK(root.m.subpath == "/any/thing");
    REQUIRE(root("GET", "/").handler != nullptr);
    CHECK(root.m.subpath == "/");

    Probe fb;
    fb.r.get("/a", nothing).fallback(nothing);
    CHECK(fb("GET", "/b").handler != nullptr);
    CHECK(fb("POST", "/a").status == 405);  // a known path keeps its 405
}

TEST_CASE("router: bad patterns are refused when added", "[http][router]") {
    http::Router r;
    CHECK_THROWS_AS(r.get("no-slash", nothing), std::invalid_argument);
    CHECK_THROWS_AS(r.get("/a/{}", nothing), std::invalid_argument);
    CHECK_THROWS_AS(r.route("BAD METHOD", "/", nothing), std::invalid_argument);
    CHECK_THROWS_AS(r.mount("/x", nothing, "GET,,POST"), std::invalid_argument);
}

TEST_CASE("a Request without a connection reads the message's body", "[http][router]") {
    http::ParsedRequest msg;
    msg.method = "POST";
    msg.target = "http://h/p/q?x=1";
    msg.body = "payload";
    http::Request req(msg);
    CHECK(req.path() == "/p/q");
    CHECK(req.query() == "x=1");
    Loop loop;
    auto body = loop.block_on(req.read_body_all(100));
    REQUIRE(body);
    CHECK(*body == "payload");
}

}  // namespace http_router_test
