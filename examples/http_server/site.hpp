#pragma once
// What http_server serves, shared with examples/sim_crawl so that both run
// the same handler: the library's http::StaticFiles on a directory, mounted
// at "/" of an http::Router, and the server options its flags start from.

#include <string>

#include <corio/http/router.hpp>
#include <corio/http/server.hpp>
#include <corio/http/static_files.hpp>
#include <corio/runtime/result.hpp>

namespace corio::examples {

/// A Router answering GET and HEAD for every path with the files under
/// `root` (StaticFiles mounted at "/"). Errors: those of StaticFiles::open,
/// the open(2) of the root. On a simulated host the root is on its disk.
Result<http::Router> static_site(const std::string& root, const http::StaticOptions& files);

/// http_server's server options before its flags change them: the
/// library's, with request bodies limited to 64 KiB.
http::ServerOptions server_defaults();

}  // namespace corio::examples
