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
// --out, and `pages=N bytes=B errors=E elapsed_ms=T` at the end.
#include <unistd.h>

#include <chrono>
#include <cstdio>
#include <cstring>
#include <string>
#include <unordered_set>

#include <corio/http/client.hpp>
#include <corio/http/url.hpp>
#include <corio/runtime/deadline.hpp>
#include <corio/runtime/loop.hpp>
#include <corio/runtime/resilience.hpp>
#include <corio/runtime/task_group.hpp>
#include <corio/runtime/timer.hpp>
#include <corio/version.hpp>
#if CORIO_HAS_TLS
#include <corio/tls/https.hpp>
#endif

#include "cli.hpp"
#include "html.hpp"

using namespace corio;
using namespace std::chrono_literals;

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

struct Config {
    std::size_t concurrency = 16;
    std::size_t max_pages = 100000;
    std::chrono::milliseconds timeout{10000};
    int retries = 3;
    int max_redirects = 5;
    std::string out_path;
    bool quiet = false;
    std::string ca_file;
    bool insecure = false;
    http::Connector connect;  // https too when built with tls
};

http::ClientOptions client_options(const Config& cfg) {
    http::ClientOptions o;
    o.max_idle_per_origin = cfg.concurrency;
    o.max_redirects = 0;  // a redirect is a page of its own
    o.user_agent = "corio-crawler/0.1";
    o.connect = cfg.connect;
    RetryPolicy policy;
    policy.max_attempts = 1 + cfg.retries;
    policy.initial_backoff = 50ms;
    policy.max_backoff = 2s;
    policy.jitter = Jitter::full;
    o.retry = policy;
    // Opens when, over the last `window` calls to the origin, 80% failed: a
    // dead host fails fast, while a host that fails each page once (and then
    // answers) keeps being called.
    BreakerOptions b;
    b.failure_threshold = 0;
    b.window = int(std::max<std::size_t>(20, 2 * cfg.concurrency));
    b.failure_ratio = 0.8;
    b.cool_down = 2s;
    b.half_open_trials = 1;
    o.breaker = b;
    return o;
}

struct Crawler {
    explicit Crawler(Config c, http::Url u)
        : cfg(std::move(c)),
          start(std::move(u)),
          origin(start.origin()),
          bulkhead(cfg.concurrency),
          client(client_options(cfg)) {}

    Config cfg;
    http::Url start;
    http::Origin origin;
    Bulkhead bulkhead;
    http::Client client;
    std::unordered_set<std::string> seen;
    std::size_t scheduled = 0;
    TaskGroup* pages_group = nullptr;
    std::FILE* out = nullptr;
    TimePoint started{};
    std::uint64_t pages = 0;
    std::uint64_t bytes = 0;
    std::uint64_t errors = 0;
    bool progress_shown = false;
};

void clear_progress(Crawler* cr) {
    if (cr->progress_shown) {
        std::fputs("\r\033[K", stderr);
        cr->progress_shown = false;
    }
}

void report_error(Crawler* cr, const std::string& url, const std::string& why) {
    if (cr->cfg.quiet) return;
    clear_progress(cr);
    std::fprintf(stderr, "crawler: %s: %s\n", url.c_str(), why.c_str());
}

void record(Crawler* cr, const std::string& url, int status) {
    ++cr->pages;
    if (status == 0 || status >= 400) ++cr->errors;
    if (cr->out != nullptr) {
        if (status == 0) {
            std::fprintf(cr->out, "ERR %s\n", url.c_str());
        } else {
            std::fprintf(cr->out, "%d %s\n", status, url.c_str());
        }
    }
}

// ---- pages ---------------------------------------------------------------

Task<void> crawl_page(Crawler* cr, http::Url url, int hops);

/// Schedules `u` if it is on the start URL's origin, new, and within the page budget.
void schedule(Crawler* cr, http::Url u, int hops) {
    if (!(u.origin() == cr->origin)) return;  // same scheme, host and port
    if (!cr->seen.insert(u.normalized()).second) return;
    if (cr->scheduled >= cr->cfg.max_pages) return;
    ++cr->scheduled;
    cr->pages_group->spawn(crawl_page(cr, std::move(u), hops));
}

bool is_html(std::string_view content_type) {
    std::string_view t = content_type.substr(0, content_type.find(';'));
    while (!t.empty() && t.back() == ' ')
        t.remove_suffix(1);
    return http::iequals(t, "text/html") || http::iequals(t, "application/xhtml+xml");
}

Task<void> crawl_page(Crawler* cr, http::Url url, int hops) {
    const std::string name = url.normalized();
    if (hops > cr->cfg.max_redirects) {
        report_error(cr, name, "too many redirects");
        record(cr, name, 0);
        co_return;
    }
    auto permit = co_await cr->bulkhead.acquire();
    if (!permit) co_return;  // cancelled
    http::ClientRequest req;
    req.url = name;
    req.headers = {{"Accept", "*/*"}};
    req.deadline = Deadline::after(cr->cfg.timeout);
    auto page = co_await cr->client.fetch(std::move(req));
    permit->release();
    if (!page) {
        report_error(cr, name, page.error().message());
        record(cr, name, 0);
        co_return;
    }
    cr->bytes += page->body.size();
    record(cr, name, page->status);
    auto location = page->headers.get("Location");
    if (page->status >= 300 && page->status < 400 && location) {
        if (auto next = http::Url::resolve(url, *location)) {
            schedule(cr, std::move(*next), hops + 1);
        }
        co_return;
    }
    if (page->status != 200 || !is_html(page->headers.get("Content-Type").value_or(""))) {
        co_return;
    }
    for (const std::string& link : examples::html::extract_links(page->body)) {
        if (auto next = http::Url::resolve(url, link)) schedule(cr, std::move(*next), 0);
    }
}

void print_progress(Crawler* cr) {
    const double secs = std::chrono::duration<double>(Loop::current().now() - cr->started).count();
    std::fprintf(stderr, "\r\033[Kpages=%llu pages/s=%.0f errors=%llu in-flight=%zu queued=%zu",
                 static_cast<unsigned long long>(cr->pages),
                 secs > 0 ? double(cr->pages) / secs : 0.0,
                 static_cast<unsigned long long>(cr->errors), cr->bulkhead.in_flight(),
                 cr->bulkhead.waiting());
    std::fflush(stderr);
    cr->progress_shown = true;
}

Task<void> progress(Crawler* cr) {
    for (;;) {
        const bool slept = co_await sleep_for(250ms);
        if (!slept) co_return;
        print_progress(cr);
    }
}

Task<void> crawl(Crawler* cr) {
    cr->started = Loop::current().now();
    TaskGroup pages;
    cr->pages_group = &pages;
    TaskGroup background;
    if (!cr->cfg.quiet && ::isatty(STDERR_FILENO) == 1) background.spawn(progress(cr));
    schedule(cr, cr->start, 0);
    co_await pages.wait();
    background.cancel();
    co_await background.wait();
    cr->client.close_idle();
    clear_progress(cr);
}

}  // namespace

int main(int argc, char** argv) {
    Config cfg;
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
                cfg.out_path = value();
            } else if (flag == "backend") {
                backend = cli.backend(value());
            } else if (flag == "quiet") {
                cfg.quiet = true;
            } else if (flag == "ca-file") {
                cfg.ca_file = value();
            } else if (flag == "insecure") {
                cfg.insecure = true;
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
    tls_opts.ca_file = cfg.ca_file;
    tls_opts.verify_peer = !cfg.insecure;
    tls_opts.alpn = {"http/1.1"};
    auto tls_ctx = tls::Context::make(tls_opts);
    if (!tls_ctx) cli.fail("--ca-file " + cfg.ca_file + ": " + tls_ctx.error().message());
    cfg.connect = tls::https_connector(*tls_ctx);
#else
    if (start->scheme() == "https") cli.fail("https: built without the tls part (OpenSSL 3)");
#endif

    std::FILE* out = nullptr;
    if (!cfg.out_path.empty()) {
        out = std::fopen(cfg.out_path.c_str(), "w");
        if (out == nullptr) cli.fail("--out " + cfg.out_path + ": " + std::strerror(errno));
    }
    try {
        LoopOptions lo;
        lo.backend = backend;
        Loop loop(lo);
        Crawler cr(cfg, *start);
        cr.out = out;
        loop.block_on(crawl(&cr));
        const auto elapsed =
            std::chrono::duration_cast<std::chrono::milliseconds>(loop.now() - cr.started);
        std::printf(
            "pages=%llu bytes=%llu errors=%llu elapsed_ms=%lld\n",
            static_cast<unsigned long long>(cr.pages), static_cast<unsigned long long>(cr.bytes),
            static_cast<unsigned long long>(cr.errors), static_cast<long long>(elapsed.count()));
        std::fflush(stdout);
    } catch (const std::exception& e) {
        std::fprintf(stderr, "crawler: %s\n", e.what());
        if (out != nullptr) std::fclose(out);
        return 1;
    }
    if (out != nullptr && std::fclose(out) != 0) {
        std::fprintf(stderr, "crawler: --out %s: %s\n", cfg.out_path.c_str(), std::strerror(errno));
        return 1;
    }
    return 0;
}
