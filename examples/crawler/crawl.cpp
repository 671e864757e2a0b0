// The crawl loop (see crawl.hpp): each page is one task of a TaskGroup; a
// Bulkhead lets `concurrency` of them talk to the server at once.
#include "crawl.hpp"

#include <algorithm>
#include <utility>

#include <corio/runtime/deadline.hpp>
#include <corio/runtime/loop.hpp>
#include <corio/runtime/timer.hpp>

#include "html.hpp"

namespace corio::examples::crawl {

using namespace std::chrono_literals;

http::ClientOptions client_options(const Config& cfg) {
    http::ClientOptions o;
    o.max_idle_per_origin = cfg.concurrency;
    o.max_redirects = 0;  // a redirect is a page of its own
    o.user_agent = cfg.user_agent;
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

bool is_html(std::string_view content_type) {
    std::string_view t = content_type.substr(0, content_type.find(';'));
    while (!t.empty() && t.back() == ' ')
        t.remove_suffix(1);
    return http::iequals(t, "text/html") || http::iequals(t, "application/xhtml+xml");
}

Crawler::Crawler(Config cfg, http::Url start)
    : cfg_(std::move(cfg)),
      start_(std::move(start)),
      origin_(start_.origin()),
      bulkhead_(cfg_.concurrency),
      client_(client_options(cfg_)) {}

// The page tasks reach the crawler's insides through here.
struct Access {
    static Task<void> page(Crawler* cr, http::Url url, int hops);

    /// Schedules `u` if it is on the start URL's origin, new, and within the page budget.
    static void schedule(Crawler* cr, http::Url u, int hops) {
        if (!(u.origin() == cr->origin_)) return;  // same scheme, host and port
        if (!cr->seen_.insert(u.normalized()).second) return;
        if (cr->scheduled_ >= cr->cfg_.max_pages) return;
        ++cr->scheduled_;
        cr->pages_group_->spawn(page(cr, std::move(u), hops));
    }

    static void record(Crawler* cr, const std::string& url, int status, std::size_t bytes,
                       std::string_view error) {
        ++cr->pages_;
        cr->bytes_ += bytes;
        if (status == 0 || status >= 400) ++cr->errors_;
        if (cr->on_page) cr->on_page(Page{url, status, bytes, error});
    }

    /// One attempt at a page: the answer, or why none came.
    static Task<Result<http::ClientResponse>> fetch(Crawler* cr, std::string url) {
        auto permit = co_await cr->bulkhead_.acquire();
        if (!permit) co_return permit.error();  // cancelled
        http::ClientRequest req;
        req.url = std::move(url);
        req.headers = {{"Accept", "*/*"}};
        req.deadline = Deadline::after(cr->cfg_.timeout);
        co_return co_await cr->client_.fetch(std::move(req));
    }
};

Task<void> Access::page(Crawler* cr, http::Url url, int hops) {
    const std::string name = url.normalized();
    if (hops > cr->cfg_.max_redirects) {
        record(cr, name, 0, 0, "too many redirects");
        co_return;
    }
    Result<http::ClientResponse> page = std::errc::operation_canceled;
    for (int attempt = 1;; ++attempt) {
        page = co_await fetch(cr, name);
        if (!page && page.error() == std::errc::operation_canceled) co_return;
        const bool again = !page || page->status == 408;  // 408: the server gave up waiting
        if (!again || attempt >= cr->cfg_.page_attempts) break;
        if (!co_await sleep_for(cr->cfg_.page_retry_delay * attempt)) co_return;  // cancelled
    }
    if (!page) {
        const std::string why = page.error().message();
        record(cr, name, 0, 0, why);
        co_return;
    }
    record(cr, name, page->status, page->body.size(), {});
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

Task<void> Crawler::run() {
    started_ = Loop::current().now();
    TaskGroup pages;
    pages_group_ = &pages;
    Access::schedule(this, start_, 0);
    co_await pages.wait();
    pages_group_ = nullptr;
    client_.close_idle();
}

}  // namespace corio::examples::crawl
