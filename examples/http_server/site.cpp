#include "site.hpp"

namespace corio::examples {

Result<http::Router> static_site(const std::string& root, const http::StaticOptions& files) {
    auto f = http::StaticFiles::open(root, files);
    if (!f) return f.error();
    http::Router router;
    router.mount("/", std::move(*f));
    return router;
}

http::ServerOptions server_defaults() {
    http::ServerOptions so;
    so.limits.max_body = 64 * 1024;
    return so;
}

}  // namespace corio::examples
