#include <corio/http/router.hpp>

#include <stdexcept>

#include <corio/http/ascii.hpp>

namespace corio::http {
namespace {

// Splits "/a/{b}/c" into its segments; the leading '/' is required.
std::vector<std::string> split_pattern(std::string_view pattern) {
    if (pattern.empty() || pattern.front() != '/') {
        throw std::invalid_argument("http::Router: a pattern starts with '/': '" +
                                    std::string(pattern) + "'");
    }
    std::vector<std::string> out;
    std::size_t pos = 1;
    while (pos <= pattern.size()) {
        std::size_t end = pattern.find('/', pos);
        if (end == std::string_view::npos) end = pattern.size();
        std::string_view seg = pattern.substr(pos, end - pos);
        if (seg.size() >= 2 && seg.front() == '{' && seg.back() == '}' && seg.size() == 2) {
            throw std::invalid_argument("http::Router: empty capture name in '" +
                                        std::string(pattern) + "'");
        }
        out.emplace_back(seg);
        pos = end + 1;
    }
    // "/" and "/a/" end with an empty segment, which then must match exactly.
    return out;
}

bool is_capture(std::string_view seg) noexcept {
    return seg.size() > 2 && seg.front() == '{' && seg.back() == '}';
}

bool method_allowed(const std::vector<std::string>& methods, std::string_view m) noexcept {
    for (const std::string& x : methods) {
        if (x == m || (m == "HEAD" && x == "GET")) return true;
    }
    return false;
}

void add_allow(std::string& allow, std::string_view m) {
    // Keep the list free of repeats; it is short.
    std::size_t pos = 0;
    while (pos < allow.size()) {
        std::size_t end = allow.find(", ", pos);
        if (end == std::string::npos) end = allow.size();
        if (std::string_view(allow).substr(pos, end - pos) == m) return;
        pos = end + 2;
    }
    if (!allow.empty()) allow += ", ";
    allow += m;
}

// Matches `path` against a route's segments; on success fills params and the
// subpath (for a prefix route).
bool match_path(const std::vector<std::string>& segs, bool prefix, std::string_view path,
                std::vector<Param>& params, std::string_view& subpath) {
    params.clear();
    if (path.empty() || path.front() != '/') return false;
    std::size_t pos = 1;
    for (std::size_t i = 0; i < segs.size(); ++i) {
        const std::string& want = segs[i];
        if (pos > path.size()) return false;  // the path has fewer segments
        std::size_t end = path.find('/', pos);
        if (end == std::string_view::npos) end = path.size();
        std::string_view seg = path.substr(pos, end - pos);
        if (is_capture(want)) {
            if (seg.empty()) return false;
            params.push_back(Param{std::string_view(want).substr(1, want.size() - 2), seg});
        } else if (prefix && i + 1 == segs.size() && want.empty()) {
            // A mount at "/": everything below matches.
            subpath = path.substr(pos - 1);
            return true;
        } else if (seg != want) {
            return false;
        }
        pos = end + 1;
    }
    if (pos > path.size()) {  // every segment of the path was used
        if (prefix) subpath = "/";
        return true;
    }
    if (!prefix) return false;
    subpath = path.substr(pos - 1);  // from the '/' after the prefix
    return true;
}

}  // namespace

bool is_standard_method(std::string_view m) noexcept {
    for (std::string_view k :
         {"GET", "HEAD", "POST", "PUT", "DELETE", "CONNECT", "OPTIONS", "TRACE", "PATCH"}) {
        if (m == k) return true;
    }
    return false;
}

Router& Router::route(std::string_view method, std::string_view pattern, Handler h) {
    if (!valid_field_name(method)) {
        throw std::invalid_argument("http::Router: invalid method '" + std::string(method) + "'");
    }
    Route r;
    r.methods.emplace_back(method);
    r.segments = split_pattern(pattern);
    r.handler = std::move(h);
    routes_.push_back(std::move(r));
    return *this;
}

Router& Router::mount(std::string_view prefix, Handler h, std::string_view methods) {
    Route r;
    std::size_t pos = 0;
    while (pos <= methods.size()) {
        std::size_t end = methods.find(',', pos);
        if (end == std::string_view::npos) end = methods.size();
        const std::string_view m = ascii::trim_ows(methods.substr(pos, end - pos));
        if (!valid_field_name(m)) {
            throw std::invalid_argument("http::Router: invalid method '" + std::string(m) + "'");
        }
        r.methods.emplace_back(m);
        pos = end + 1;
    }
    // "/static/" and "/static" mount the same place.
    while (prefix.size() > 1 && prefix.back() == '/')
        prefix.remove_suffix(1);
    r.segments = split_pattern(prefix);
    r.prefix = true;
    r.handler = std::move(h);
    routes_.push_back(std::move(r));
    return *this;
}

Router& Router::fallback(Handler h) {
    fallback_ = std::move(h);
    return *this;
}

RouteMatch Router::match(std::string_view method, std::string_view path,
                         std::vector<Param>& params) const {
    RouteMatch m;
    bool path_matched = false;
    bool method_known = is_standard_method(method);
    for (const Route& r : routes_) {
        std::string_view sub = path;
        if (!match_path(r.segments, r.prefix, path, params, sub)) continue;
        if (method_allowed(r.methods, method)) {
            m.handler = &r.handler;
            m.subpath = sub;
            return m;
        }
        path_matched = true;
        for (const std::string& x : r.methods) {
            add_allow(m.allow, x);
            if (x == "GET") add_allow(m.allow, "HEAD");
        }
    }
    params.clear();
    for (const Route& r : routes_) {
        for (const std::string& x : r.methods) {
            if (x == method) method_known = true;
        }
    }
    if (!method_known) {
        m.status = 501;
        m.allow.clear();
        return m;
    }
    if (path_matched) {
        m.status = 405;
        return m;
    }
    m.allow.clear();
    if (fallback_) {
        m.handler = &fallback_;
        m.subpath = path;
        return m;
    }
    m.status = 404;
    return m;
}

}  // namespace corio::http
