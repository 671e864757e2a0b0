#pragma once
// Router: picks the handler for a request by method and path.
//
//   http::Router r;
//   r.get("/users/{id}", [](http::Request& q) -> Task<http::Response> {
//       co_return http::Response::text(200, std::string(q.param("id")));
//   });
//   r.mount("/static", http::StaticFiles::open("/srv/www").value("root"));
//
// Patterns are '/'-separated segments: a literal matches itself (exactly, as
// sent), `{name}` matches any one non-empty segment and captures it. Routes
// are tried in the order they were added; the first whose pattern and method
// match wins. A GET route also answers HEAD. When some route matches the path
// but none the method, the answer is 405 with an Allow field naming the
// methods that would match; an unknown method nobody routes gets 501; a path
// no route matches goes to the fallback, or gets 404.

#include <cstdint>
#include <functional>
#include <string>
#include <string_view>
#include <vector>

#include <corio/http/message.hpp>

namespace corio::http {

/// A request handler: a coroutine answering one request.
using Handler = std::function<Task<Response>(Request&)>;

/// The outcome of Router::match().
struct RouteMatch {
    /// The handler to call, or null: then `status` says what to answer
    /// (404, 405 with `allow`, or 501).
    const Handler* handler = nullptr;
    int status = 0;  ///< 0 with a handler; else 404, 405 or 501
    /// For 405: the methods the path allows, "GET, HEAD, POST".
    std::string allow;
    /// For a mount: the path below the prefix (see Request::subpath()).
    std::string_view subpath;
};

/// Picks the handler for a request by method and path (see the file comment
/// for the patterns and the 404/405/501 answers). Build it before serving;
/// matching never changes it.
class Router {
public:
    /// Answers `method` on `pattern` with `h`.
    Router& route(std::string_view method, std::string_view pattern, Handler h);
    /// route("GET", ...): also answers HEAD.
    Router& get(std::string_view pattern, Handler h) { return route("GET", pattern, std::move(h)); }
    /// route("POST", ...).
    Router& post(std::string_view pattern, Handler h) {
        return route("POST", pattern, std::move(h));
    }
    /// route("PUT", ...).
    Router& put(std::string_view pattern, Handler h) { return route("PUT", pattern, std::move(h)); }
    /// route("DELETE", ...) (`delete` is a keyword).
    Router& del(std::string_view pattern, Handler h) {
        return route("DELETE", pattern, std::move(h));
    }
    /// Answers every path equal to `prefix` or below it ("/static" takes
    /// "/static" and "/static/a/b", not "/statics") with `h`, for GET and HEAD
    /// unless `methods` says otherwise ("GET,POST"); the handler finds the
    /// rest of the path in Request::subpath(). "/" mounts at the root.
    Router& mount(std::string_view prefix, Handler h, std::string_view methods = "GET");
    /// Answers requests no route matches (instead of 404).
    Router& fallback(Handler h);

    /// Finds the handler for `method` and `path` (a path as sent, without the
    /// query); fills `params` with the captures (views into `path`). Pure: no
    /// I/O, never throws but for memory.
    RouteMatch match(std::string_view method, std::string_view path,
                     std::vector<Param>& params) const;

    /// Dispatches `req` (the router is itself a Handler).
    Task<Response> operator()(Request& req) const;

private:
    struct Route {
        std::vector<std::string> methods;   // "GET" also matches HEAD
        std::vector<std::string> segments;  // "{name}" captures
        bool prefix = false;                // mount: matches below too
        Handler handler;
    };
    std::vector<Route> routes_;
    Handler fallback_;
};

/// True for the methods of RFC 9110 §9 and PATCH (RFC 5789): the ones a
/// server answers with 405 rather than 501 when it does not allow them.
bool is_standard_method(std::string_view m) noexcept;

}  // namespace corio::http
