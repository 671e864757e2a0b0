// crawler: fetches every page reachable by links from a start URL on the
// same host and port, many at a time, on one corio loop.
//
//   crawler http://127.0.0.1:8080/ [--concurrency 16] [--max-pages N] [--timeout-ms T]
//           [--out FILE] [--backend auto|io_uring|epoll]
//
// Each page is one task. A Bulkhead lets --concurrency of them talk to the
// server at once; keep-alive connections are reused through a small pool;
// each page has a deadline (--timeout-ms) that bounds its retries too;
// connection errors and 5xx answers are retried with exponential backoff and
// full jitter; a circuit breaker per host makes calls fail fast once most of
// them fail. Redirects are followed as links (each hop is a page of its own,
// at most --max-redirects in a chain). URLs are deduplicated in normal form.
//
// Prints a live progress line on a terminal, `STATUS URL` per page to
// --out, and `pages=N bytes=B errors=E elapsed_ms=T` at the end.
#include <unistd.h>

#include <chrono>
#include <cstdio>
#include <cstring>
#include <deque>
#include <string>
#include <unordered_set>
#include <vector>

#include <corio/net/html.hpp>
#include <corio/net/http.hpp>
#include <corio/net/resolve.hpp>
#include <corio/net/tcp.hpp>
#include <corio/net/url.hpp>
#include <corio/runtime/deadline.hpp>
#include <corio/runtime/loop.hpp>
#include <corio/runtime/resilience.hpp>
#include <corio/runtime/task_group.hpp>
#include <corio/runtime/timer.hpp>

#include "cli.hpp"

using namespace corio;
using namespace std::chrono_literals;
namespace http = corio::net::http;

namespace {

const char* const usage =
    "usage: crawler URL [options]\n"
    "  Fetches every page reachable by href/src links from URL on the same host and port.\n"
    "  --concurrency N     pages fetched at once (default 16)\n"
    "  --max-pages N       stop scheduling new pages after N (default 100000)\n"
    "  --timeout-ms T      deadline per page, retries included (default 10000)\n"
    "  --retries N         retries of a connection error or 5xx answer (default 3)\n"
    "  --max-redirects N   redirects followed in a chain (default 5)\n"
    "  --out FILE          write `STATUS URL` per page (STATUS is ERR when no answer came)\n"
    "  --backend B         auto, io_uring or epoll (default auto; CORIO_BACKEND overrides auto)\n"
    "  --quiet             no progress line, no per-error messages on stderr\n"
    "  --help              this text\n"
    "Prints `pages=N bytes=B errors=E elapsed_ms=T` at the end. http only.\n";

struct Config {
    std::size_t concurrency = 16;
    std::size_t max_pages = 100000;
    std::chrono::milliseconds timeout{10000};
    int retries = 3;
    int max_redirects = 5;
    std::string out_path;
    bool quiet = false;
};

/// One HTTP answer, as much of it as the crawler needs.
struct Page {
    int status = 0;
    std::string content_type;
    std::string location;
    std::string body;
};

/// Idle keep-alive connections to the one origin being crawled.
struct Pool {
    net::Address addr;
    std::vector<net::TcpStream> idle;
    std::size_t max_idle = 16;
    std::uint64_t connects = 0;
    std::uint64_t reuses = 0;
    void put(net::TcpStream s) {
        if (idle.size() < max_idle) idle.push_back(std::move(s));
    }
};

struct Crawler {
    explicit Crawler(Config c, net::Url u)
        : cfg(std::move(c)),
          start(std::move(u)),
          origin(start.origin()),
          bulkhead(cfg.concurrency),
          breakers(breaker_options(cfg)) {
        policy.max_attempts = 1 + cfg.retries;
        policy.initial_backoff = 50ms;
        policy.max_backoff = 2s;
        policy.jitter = Jitter::full;
        pool.max_idle = cfg.concurrency;
    }

    static BreakerOptions breaker_options(const Config& cfg) {
        BreakerOptions o;
        // Opens when, over the last `window` calls to a host, 80% failed: a
        // dead host fails fast, while a host that fails each page once (and
        // then answers) keeps being called.
        o.failure_threshold = 0;
        o.window = int(std::max<std::size_t>(20, 2 * cfg.concurrency));
        o.failure_ratio = 0.8;
        o.cool_down = 2s;
        o.half_open_trials = 1;
        return o;
    }

    Config cfg;
    net::Url start;
    net::Origin origin;
    Bulkhead bulkhead;
    CircuitBreakerMap breakers;
    RetryPolicy policy;
    Pool pool;
    std::unordered_set<std::string> seen;
    std::size_t scheduled = 0;
    TaskGroup* pages_group = nullptr;
    std::FILE* out = nullptr;
    TimePoint started{};
    std::uint64_t pages = 0;
    std::uint64_t bytes = 0;
    std::uint64_t errors = 0;
    std::uint64_t attempts = 0;
    bool progress_shown = false;
};

bool is_tty() {
    return ::isatty(STDERR_FILENO) == 1;
}

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

// ---- one request on a pooled connection ---------------------------------------

bool stale_connection_error(std::error_code ec) {
    return ec == std::errc::connection_reset || ec == std::errc::broken_pipe ||
           ec == corio::Errc::eof;
}

/// GET `url` once: a pooled connection if there is one (a connection the
/// server closed meanwhile is replaced once, at no cost to the retry budget),
/// else a new one. The connection goes back to the pool if the answer allows.
Task<Result<Page>> fetch_once(Crawler* cr, net::Url url) {
    ++cr->attempts;
    std::string request;
    http::format_request(request, "GET", url.target(), url.authority(),
                         {{"User-Agent", "corio-crawler/0.1"}, {"Accept", "*/*"}});
    std::vector<std::byte> buf(16 * 1024);
    for (int round = 0; round < 2; ++round) {
        net::TcpStream s;
        const bool reused = !cr->pool.idle.empty();
        if (reused) {
            s = std::move(cr->pool.idle.back());
            cr->pool.idle.pop_back();
            ++cr->pool.reuses;
        } else {
            auto c = co_await net::TcpStream::connect(cr->pool.addr);
            if (!c) co_return c.error();
            s = std::move(*c);
            (void)s.set_nodelay();
            ++cr->pool.connects;
        }
        auto w = co_await s.send_all(std::as_bytes(std::span(request)));
        if (!w) {
            if (reused && stale_connection_error(w.error())) continue;
            co_return w.error();
        }
        http::ResponseParser parser;
        bool got_any = false;
        bool leftover = false;
        bool retry_fresh = false;
        for (;;) {
            auto n = co_await s.recv(buf);
            if (!n) {
                if (reused && !got_any && stale_connection_error(n.error())) {
                    retry_fresh = true;
                    break;
                }
                co_return n.error();
            }
            if (*n == 0) {
                if (reused && !got_any) {
                    retry_fresh = true;
                    break;
                }
                if (parser.finish_eof() == http::ParseState::done) break;
                co_return corio::Errc::eof;
            }
            got_any = true;
            std::string_view data(reinterpret_cast<const char*>(buf.data()), *n);
            std::size_t used = parser.feed(data);
            if (parser.state() == http::ParseState::error) {
                co_return std::make_error_code(std::errc::bad_message);
            }
            if (parser.state() == http::ParseState::done) {
                leftover = used < data.size();
                break;
            }
        }
        if (retry_fresh) continue;
        http::Response resp = parser.take_response();
        if (resp.keep_alive() && !leftover) cr->pool.put(std::move(s));
        Page p;
        p.status = resp.status;
        if (auto ct = resp.headers.get("Content-Type")) p.content_type = *ct;
        if (auto loc = resp.headers.get("Location")) p.location = *loc;
        p.body = std::move(resp.body);
        co_return p;
    }
    co_return corio::Errc::eof;
}

// ---- pages ---------------------------------------------------------------

Task<void> crawl_page(Crawler* cr, net::Url url, int hops);

/// Schedules `u` if it is on the start URL's origin, new, and within the page budget.
void schedule(Crawler* cr, net::Url u, int hops) {
    if (u.scheme() != "http" || !(u.origin() == cr->origin)) return;
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

Task<void> crawl_page(Crawler* cr, net::Url url, int hops) {
    const std::string name = url.normalized();
    if (hops > cr->cfg.max_redirects) {
        report_error(cr, name, "too many redirects");
        record(cr, name, 0);
        co_return;
    }
    auto permit = co_await cr->bulkhead.acquire();
    if (!permit) co_return;  // cancelled
    const Deadline deadline = Deadline::after(cr->cfg.timeout);
    CircuitBreaker& breaker =
        cr->breakers.get(cr->origin.host + ":" + std::to_string(cr->origin.port));
    auto is_failure = [](const Result<Page>& r) {
        return r ? r->status >= 500 : counts_as_failure(r.error());
    };
    auto should_retry = [](const Result<Page>& r) {
        return r ? r->status >= 500 : is_transient_error(r.error());
    };
    auto attempt = [cr, &url, &breaker, is_failure] {
        return breaker.call([cr, &url] { return fetch_once(cr, url); }, is_failure);
    };
    auto rr = co_await retry(cr->policy.until(deadline), attempt, should_retry);
    permit->release();
    if (!rr.result) {
        std::string why = rr.result.error().message();
        if (rr.attempts > 1) why += " (after " + std::to_string(rr.attempts) + " attempts)";
        report_error(cr, name, why);
        record(cr, name, 0);
        co_return;
    }
    Page& page = *rr.result;
    cr->bytes += page.body.size();
    record(cr, name, page.status);
    if (page.status >= 300 && page.status < 400 && !page.location.empty()) {
        if (auto next = net::Url::resolve(url, page.location))
            schedule(cr, std::move(*next), hops + 1);
        co_return;
    }
    if (page.status != 200 || !is_html(page.content_type)) co_return;
    for (const std::string& link : net::html::extract_links(page.body)) {
        if (auto next = net::Url::resolve(url, link)) schedule(cr, std::move(*next), 0);
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
    const std::string start_name = cr->start.normalized();
    auto addrs = co_await net::resolve(std::string(cr->start.host_name()), cr->start.port());
    if (!addrs || addrs->empty()) {
        std::error_code ec =
            addrs ? std::make_error_code(std::errc::address_not_available) : addrs.error();
        report_error(cr, start_name, net::describe("resolve", cr->start.authority(), ec));
        record(cr, start_name, 0);
        co_return;
    }
    cr->pool.addr = addrs->front();
    TaskGroup pages;
    cr->pages_group = &pages;
    TaskGroup background;
    if (!cr->cfg.quiet && is_tty()) background.spawn(progress(cr));
    schedule(cr, cr->start, 0);
    co_await pages.wait();
    background.cancel();
    co_await background.wait();
    cr->pool.idle.clear();
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
    auto start = net::Url::parse(start_text);
    if (start && start->scheme() == "https") {
        cli.fail("https is not supported, only http: '" + start_text + "'");
    }
    if (!start) cli.fail("not an http URL: '" + start_text + "'");

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
