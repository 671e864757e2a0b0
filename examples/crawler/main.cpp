// crawler: fetches every page reachable by links from a start URL on the
// same origin (scheme, host and port), many at a time, on one corio loop.
//
//   crawler http[s]://127.0.0.1:8080/ [--concurrency 16] [--max-pages N] [--timeout-ms T]
//           [--out FILE] [--backend auto|io_uring|epoll] [--ca-file FILE] [--insecure]
//
// https goes through tls::https_connector: the server's certificate chain and
// name are verified (against --ca-file or the system store) unless --insecure;
// a page that fails verification counts as an error, named on stderr.
//
// Each page is one task. A Bulkhead lets --concurrency of them talk to the
// server at once. HTTP is http::Client's: keep-alive connections pooled per
// origin, a deadline per page (--timeout-ms) that bounds its retries too,
// connection errors and 5xx answers retried with exponential backoff and full
// jitter, a circuit breaker per origin that fails calls fast once most of
// them fail. Redirects are followed as links (each hop is a page of its own,
// at most --max-redirects in a chain). URLs are deduplicated in normal form.
//
// Prints a live progress line on a terminal, `STATUS URL` per page to
// --out, and `pages=N bytes=B errors=E elapsed_ms=T` at the end. The crawl
// itself is crawl.cpp's, shared with examples/sim_crawl.
#include <unistd.h>

#include <chrono>
#include <cstdio>
#include <cstring>
#include <string>

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

struct Options {
    crawl::Config crawl;
    std::string out_path;
    bool quiet = false;
    std::string ca_file;
    bool insecure = false;
};

/// What the command shows of a crawl: the live progress line, the --out
/// listing, errors on stderr.
struct Display {
    const crawl::Crawler* cr = nullptr;
    std::FILE* out = nullptr;
    bool quiet = false;
    bool progress_shown = false;

    void clear_progress() {
        if (progress_shown) {
            std::fputs("\r\033[K", stderr);
            progress_shown = false;
        }
    }
    void page(const crawl::Page& p) {
        if (p.status == 0 && !quiet) {
            clear_progress();
            std::fprintf(stderr, "crawler: %s: %.*s\n", p.url.c_str(), int(p.error.size()),
                         p.error.data());
        }
        if (out == nullptr) return;
        if (p.status == 0) {
            std::fprintf(out, "ERR %s\n", p.url.c_str());
        } else {
            std::fprintf(out, "%d %s\n", p.status, p.url.c_str());
        }
    }
    void progress() {
        const double secs =
            std::chrono::duration<double>(Loop::current().now() - cr->started()).count();
        std::fprintf(stderr, "\r\033[Kpages=%llu pages/s=%.0f errors=%llu in-flight=%zu queued=%zu",
                     static_cast<unsigned long long>(cr->pages()),
                     secs > 0 ? double(cr->pages()) / secs : 0.0,
                     static_cast<unsigned long long>(cr->errors()), cr->in_flight(), cr->waiting());
        std::fflush(stderr);
        progress_shown = true;
    }
};

Task<void> show_progress(Display* d) {
    for (;;) {
        const bool slept = co_await sleep_for(250ms);
        if (!slept) co_return;
        d->progress();
    }
}

Task<void> crawl_with_display(crawl::Crawler* cr, Display* d) {
    TaskGroup background;
    if (!d->quiet && ::isatty(STDERR_FILENO) == 1) background.spawn(show_progress(d));
    co_await cr->run();
    background.cancel();
    co_await background.wait();
    d->clear_progress();
}

}  // namespace

int main(int argc, char** argv) {
    Options opt;
    crawl::Config& cfg = opt.crawl;
    BackendChoice backend = BackendChoice::automatic;
    std::string start_text;
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
                opt.out_path = value();
            } else if (flag == "backend") {
                backend = cli.backend(value());
            } else if (flag == "quiet") {
                opt.quiet = true;
            } else if (flag == "ca-file") {
                opt.ca_file = value();
            } else if (flag == "insecure") {
                opt.insecure = true;
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
    tls_opts.ca_file = opt.ca_file;
    tls_opts.verify_peer = !opt.insecure;
    tls_opts.alpn = {"http/1.1"};
    auto tls_ctx = tls::Context::make(tls_opts);
    if (!tls_ctx) cli.fail("--ca-file " + opt.ca_file + ": " + tls_ctx.error().message());
    cfg.connect = tls::https_connector(*tls_ctx);
#else
    if (start->scheme() == "https") cli.fail("https: built without the tls part (OpenSSL 3)");
#endif

    std::FILE* out = nullptr;
    if (!opt.out_path.empty()) {
        out = std::fopen(opt.out_path.c_str(), "w");
        if (out == nullptr) cli.fail("--out " + opt.out_path + ": " + std::strerror(errno));
    }
    try {
        LoopOptions lo;
        lo.backend = backend;
        Loop loop(lo);
        crawl::Crawler cr(cfg, *start);
        Display display{&cr, out, opt.quiet};
        cr.on_page = [&display](const crawl::Page& p) { display.page(p); };
        loop.block_on(crawl_with_display(&cr, &display));
        const auto elapsed =
            std::chrono::duration_cast<std::chrono::milliseconds>(loop.now() - cr.started());
        std::printf("pages=%llu bytes=%llu errors=%llu elapsed_ms=%lld\n",
                    static_cast<unsigned long long>(cr.pages()),
                    static_cast<unsigned long long>(cr.bytes()),
                    static_cast<unsigned long long>(cr.errors()),
                    static_cast<long long>(elapsed.count()));
        std::fflush(stdout);
    } catch (const std::exception& e) {
        std::fprintf(stderr, "crawler: %s\n", e.what());
        if (out != nullptr) std::fclose(out);
        return 1;
    }
    if (out != nullptr && std::fclose(out) != 0) {
        std::fprintf(stderr, "crawler: --out %s: %s\n", opt.out_path.c_str(), std::strerror(errno));
        return 1;
    }
    return 0;
}
