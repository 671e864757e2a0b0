// crawler: the pages reachable by links from a start URL on its origin, --concurrency at a time,
// on one loop: the crawl is crawl.hpp's, HTTP http::Client's, https tls::https_connector's.
#include <cerrno>
#include <cstdint>
#include <cstdio>
#include <cstring>
#include <system_error>

#include <fmt/core.h>

#include <corio/corio.hpp>  // tls/ too where it was built (CORIO_HAS_TLS)

#include "cli.hpp"
#include "crawl.hpp"

using namespace corio;
using namespace std::chrono_literals;
namespace crawl = corio::examples::crawl;

int main(int argc, char** argv) {
    crawl::Config cfg;
    LoopOptions lo;
    std::string start_text, out_path, ca_file;
    bool quiet = false, insecure = false;
    examples::Cli cli(argc, argv, "URL [options]",
                      "Fetches every page reachable by href/src links from URL on the same\n"
                      "scheme, host and port (http or https). Prints `STATUS URL` per page to\n"
                      "--out (ERR: no answer came) and `pages=N bytes=B errors=E elapsed_ms=T`.\n");
    cli.positional("URL", start_text);
    cli.option("concurrency N", "pages fetched at once", cfg.concurrency, 1, 100000);
    cli.option("max-pages N", "no page is scheduled after N", cfg.max_pages, 1, SIZE_MAX);
    cli.option("timeout-ms T", "deadline per page, retries included", cfg.timeout, 1, 86'400'000);
    cli.option("retries N", "retries of a connection error or 5xx answer", cfg.retries, 0, 100);
    cli.option("max-redirects N", "redirects followed in a chain", cfg.max_redirects, 0, 100);
    cli.option("out FILE", "write `STATUS URL` per page", out_path);
    cli.backend(lo.backend);
    cli.flag("quiet", "no per-page error messages on stderr", quiet);
    cli.option("ca-file FILE", "https: trust the CAs in FILE (default: the system store)", ca_file);
    cli.flag("insecure", "https: accept any certificate and name (no verification)", insecure);
    cli.parse();
    auto start = http::Url::parse(start_text);
    if (!start) cli.fail("not an http(s) URL: '" + start_text + "'");
#if CORIO_HAS_TLS
    auto tls_ctx = tls::Context::make({.ca_file = ca_file, .verify_peer = !insecure});
    if (!tls_ctx) cli.fail("--ca-file " + ca_file + ": " + tls_ctx.error().message());
    cfg.connect = tls::https_connector(*tls_ctx);
#else
    if (start->scheme() == "https") cli.fail("https: built without the tls part (OpenSSL 3)");
#endif
    std::FILE* out = out_path.empty() ? nullptr : std::fopen(out_path.c_str(), "w");
    const int open_error = errno;  // before the message's allocation
    if (!out_path.empty() && !out) cli.fail("--out " + out_path + ": " + std::strerror(open_error));
    try {
        Loop loop(lo);
        crawl::Crawler cr(cfg, *start);
        cr.on_page = [&](const crawl::Page& p) {
            const std::string status = p.status == 0 ? "ERR" : std::to_string(p.status);
            if (out != nullptr) fmt::print(out, "{} {}\n", status, p.url);
            if (p.status == 0 && !quiet) fmt::print(stderr, "crawler: {}: {}\n", p.url, p.error);
        };
        const TimePoint started = loop.now();
        loop.block_on(cr.run());
        fmt::print("pages={} bytes={} errors={} elapsed_ms={}\n", cr.pages(), cr.bytes(),
                   cr.errors(), (loop.now() - started) / 1ms);
        if (out != nullptr && std::fclose(out) != 0) {
            const int e = errno;  // before the message's allocation
            throw std::system_error(e, std::system_category(), "--out " + out_path);
        }
    } catch (const std::exception& e) {
        fmt::print(stderr, "crawler: {}\n", e.what());
        return 1;
    }
    return 0;
}
