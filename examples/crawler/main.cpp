// crawler: fetches every page reachable by links from a start URL on the same origin (scheme,
// host and port), --concurrency at a time, on one corio loop.
//
//   crawler http[s]://127.0.0.1:8080/ [--concurrency 16] [--max-pages N] [--timeout-ms T]
//           [--out FILE] [--backend auto|io_uring|epoll] [--ca-file FILE] [--insecure]
//
// The crawl is crawl.cpp's (shared with examples/sim_crawl), HTTP is http::Client's. https
// goes through tls::https_connector: the server's chain and name are verified (against
// --ca-file or the system store) unless --insecure. Prints a live progress line on a
// terminal, `STATUS URL` per page to --out, and `pages=N bytes=B errors=E elapsed_ms=T` at
// the end.
#include <unistd.h>

#include <chrono>
#include <cstdio>
#include <cstring>
#include <string>

#include <fmt/core.h>

#include <corio/http/url.hpp>
#include <corio/runtime/loop.hpp>
#include <corio/runtime/task_group.hpp>
#include <corio/runtime/timer.hpp>
#include <corio/version.hpp>
#if CORIO_HAS_TLS
#include <corio/tls/https.hpp>
#endif

#include "cli.hpp"
#include "crawl.hpp"

using namespace corio;
using namespace std::chrono_literals;
namespace crawl = corio::examples::crawl;

namespace {

const char* const usage =
    "usage: crawler URL [options]\n"
    "  Fetches every page reachable by href/src links from URL on the same scheme, host\n"
    "  and port.\n"
    "  --concurrency N     pages fetched at once (default 16)\n"
    "  --max-pages N       stop scheduling new pages after N (default 100000)\n"
    "  --timeout-ms T      deadline per page, retries included (default 10000)\n"
    "  --retries N         retries of a connection error or 5xx answer (default 3)\n"
    "  --max-redirects N   redirects followed in a chain (default 5)\n"
    "  --out FILE          write `STATUS URL` per page (STATUS is ERR when no answer came)\n"
    "  --backend B         auto, io_uring or epoll (default auto; CORIO_BACKEND overrides auto)\n"
    "  --quiet             no progress line, no per-error messages on stderr\n"
    "  --ca-file FILE      https: trust the CAs in FILE (default: the system store)\n"
    "  --insecure          https: accept any certificate and name (no verification)\n"
    "  --help              this text\n"
    "Prints `pages=N bytes=B errors=E elapsed_ms=T` at the end. http and https.\n";

/// What the command shows of a crawl: a progress line on a terminal, `STATUS URL` per page in
/// --out, the pages that got no answer on stderr.
struct Display {
    const crawl::Crawler* cr;
    std::FILE* out;
    bool quiet;
    bool progress_shown = false;

    void clear_progress() {
        if (progress_shown) std::fputs("\r\033[K", stderr);
        progress_shown = false;
    }
    void page(const crawl::Page& p) {
        if (p.status == 0 && !quiet) {
            clear_progress();
            fmt::print(stderr, "crawler: {}: {}\n", p.url, p.error);
        }
        if (out != nullptr) {
            fmt::print(out, "{} {}\n", p.status == 0 ? "ERR" : std::to_string(p.status), p.url);
        }
    }
    void progress() {
        const double secs =
            std::chrono::duration<double>(Loop::current().now() - cr->started()).count();
        fmt::print(stderr, "\r\033[Kpages={} pages/s={:.0f} errors={} in-flight={} queued={}",
                   cr->pages(), secs > 0 ? double(cr->pages()) / secs : 0.0, cr->errors(),
                   cr->in_flight(), cr->waiting());
        std::fflush(stderr);
        progress_shown = true;
    }
};

Task<void> crawl_with_display(crawl::Crawler* cr, Display* d) {
    TaskGroup background;
    if (!d->quiet && ::isatty(STDERR_FILENO) == 1) {
        background.spawn([](Display* d) -> Task<void> {
            while (co_await sleep_for(250ms))
                d->progress();
        }(d));
    }
    co_await cr->run();
    background.cancel();
    co_await background.wait();
    d->clear_progress();
}

}  // namespace

int main(int argc, char** argv) {
    crawl::Config cfg;
    BackendChoice backend = BackendChoice::automatic;
    std::string start_text, out_path, ca_file;
    bool quiet = false, insecure = false;
    examples::Cli cli(argc, argv, usage);
    cli.parse(
        [&](const std::string& flag, auto value) {
            if (flag == "concurrency") {
                cfg.concurrency = cli.number<std::size_t>(flag, value(), 1, 100000);
            } else if (flag == "max-pages") {
                cfg.max_pages = cli.number<std::size_t>(flag, value(), 1, std::size_t(1) << 40);
            } else if (flag == "timeout-ms") {
                cfg.timeout = std::chrono::milliseconds(
                    cli.number<std::uint32_t>(flag, value(), 1, 86'400'000));
            } else if (flag == "retries") {
                cfg.retries = cli.number<int>(flag, value(), 0, 100);
            } else if (flag == "max-redirects") {
                cfg.max_redirects = cli.number<int>(flag, value(), 0, 100);
            } else if (flag == "out") {
                out_path = value();
            } else if (flag == "backend") {
                backend = cli.backend(value());
            } else if (flag == "quiet") {
                quiet = true;
            } else if (flag == "ca-file") {
                ca_file = value();
            } else if (flag == "insecure") {
                insecure = true;
            } else {
                return false;
            }
            return true;
        },
        [&](const std::string& arg) {
            if (!start_text.empty()) return false;
            start_text = arg;
            return true;
        });
    if (start_text.empty()) cli.fail("a start URL is required");
    auto start = http::Url::parse(start_text);
    if (!start) cli.fail("not an http(s) URL: '" + start_text + "'");
#if CORIO_HAS_TLS
    tls::ContextOptions tls_opts;
    tls_opts.ca_file = ca_file;
    tls_opts.verify_peer = !insecure;
    tls_opts.alpn = {"http/1.1"};
    auto tls_ctx = tls::Context::make(tls_opts);
    if (!tls_ctx) cli.fail("--ca-file " + ca_file + ": " + tls_ctx.error().message());
    cfg.connect = tls::https_connector(*tls_ctx);
#else
    if (start->scheme() == "https") cli.fail("https: built without the tls part (OpenSSL 3)");
#endif

    std::FILE* out = nullptr;
    if (!out_path.empty()) {
        out = std::fopen(out_path.c_str(), "w");
        if (out == nullptr) cli.fail("--out " + out_path + ": " + std::strerror(errno));
    }
    try {
        LoopOptions lo;
        lo.backend = backend;
        Loop loop(lo);
        crawl::Crawler cr(cfg, *start);
        Display display{&cr, out, quiet};
        cr.on_page = [&display](const crawl::Page& p) { display.page(p); };
        loop.block_on(crawl_with_display(&cr, &display));
        const auto elapsed = (loop.now() - cr.started()) / std::chrono::milliseconds(1);
        fmt::print("pages={} bytes={} errors={} elapsed_ms={}\n", cr.pages(), cr.bytes(),
                   cr.errors(), elapsed);
        std::fflush(stdout);
    } catch (const std::exception& e) {
        fmt::print(stderr, "crawler: {}\n", e.what());
        if (out != nullptr) std::fclose(out);
        return 1;
    }
    if (out != nullptr && std::fclose(out) != 0) {
        fmt::print(stderr, "crawler: --out {}: {}\n", out_path, std::strerror(errno));
        return 1;
    }
    return 0;
}
