// The crawl loop (see crawl.hpp): each page is one task of a TaskGroup; a Bulkhead lets
// `concurrency` of them talk to the server at once.
#include "crawl.hpp"

#include <algorithm>
#include <utility>

#include <corio/http/codec.hpp>
#include <corio/runtime/deadline.hpp>
#include <corio/runtime/loop.hpp>
#include <corio/runtime/timer.hpp>

#include "html.hpp"

namespace corio::examples::crawl {
namespace {

using namespace std::chrono_literals;

http::ClientOptions client_options(const Config& cfg) {
    http::ClientOptions o;
    o.max_idle_per_origin = cfg.concurrency;
    o.max_redirects = 0;  // a redirect is a page of its own
    o.user_agent = cfg.user_agent;
    o.connect = cfg.connect;
    RetryPolicy& retry = o.retry.emplace();
    retry.max_attempts = 1 + cfg.retries;
    retry.initial_backoff = 50ms;
    retry.max_backoff = 2s;
    retry.jitter = Jitter::full;
    // Opens when 80% of the last `window` calls to the origin failed: a dead host fails fast,
    // while a host that fails each page once (and then answers) keeps being called.
    BreakerOptions& breaker = o.breaker.emplace();
    breaker.failure_threshold = 0;
    breaker.window = int(std::max<std::size_t>(20, 2 * cfg.concurrency));
    breaker.failure_ratio = 0.8;
    breaker.cool_down = 2s;
    return o;
}

}  // namespace

Crawler::Crawler(Config cfg, http::Url start)
    : cfg_(std::move(cfg)),
      start_(std::move(start)),
      origin_(start_.origin()),
      bulkhead_(cfg_.concurrency),
      client_(client_options(cfg_)) {}

Task<void> Crawler::run() {
    started_ = Loop::current().now();
    TaskGroup pages;
    pages_group_ = &pages;
    schedule(start_, 0);
    co_await pages.wait();
    pages_group_ = nullptr;
    client_.close_idle();
}

// Schedules `url` if it is on the start URL's origin, new, and within the page budget.
void Crawler::schedule(http::Url url, int hops) {
    if (!(url.origin() == origin_) || seen_.size() >= cfg_.max_pages) return;
    if (seen_.insert(url.normalized()).second) pages_group_->spawn(page(std::move(url), hops));
}

Task<void> Crawler::page(http::Url url, int hops) {
    const std::string name = url.normalized();
    if (hops > cfg_.max_redirects) {
        record(name, 0, 0, "too many redirects");
        co_return;
    }
    Result<http::ClientResponse> page = co_await fetch(name);
    for (int attempt = 1; attempt < cfg_.page_attempts && (!page || page->status == 408);
         ++attempt) {
        if (!page && page.error() == std::errc::operation_canceled) co_return;
        if (!co_await sleep_for(cfg_.page_retry_delay * attempt)) co_return;  // cancelled
        page = co_await fetch(name);
    }
    if (!page) {
        if (page.error() != std::errc::operation_canceled) {
            record(name, 0, 0, page.error().message());
        }
        co_return;
    }
    record(name, page->status, page->body.size(), {});
    const auto location = page->headers.get("Location");
    if (page->status >= 300 && page->status < 400 && location) {
        if (auto next = http::Url::resolve(url, *location)) schedule(std::move(*next), hops + 1);
        co_return;
    }
    const auto type = http::media_type(page->headers.get("Content-Type").value_or(""));
    if (page->status == 200 &&
        (http::iequals(type, "text/html") || http::iequals(type, "application/xhtml+xml"))) {
        for (const std::string& link : html::extract_links(page->body)) {
            if (auto next = http::Url::resolve(url, link)) schedule(std::move(*next), 0);
        }
    }
}

// One attempt at a page: the answer, or why none came.
Task<Result<http::ClientResponse>> Crawler::fetch(std::string url) {
    auto permit = co_await bulkhead_.acquire();
    if (!permit) co_return permit.error();  // cancelled
    http::ClientRequest req;
    req.url = std::move(url);
    req.headers = {{"Accept", "*/*"}};
    req.deadline = Deadline::after(cfg_.timeout);
    co_return co_await client_.fetch(std::move(req));
}

void Crawler::record(const std::string& url, int status, std::size_t bytes,
                     std::string_view error) {
    ++pages_;
    bytes_ += bytes;
    if (status == 0 || status >= 400) ++errors_;
    if (on_page) on_page(Page{url, status, bytes, error});
}

}  // namespace corio::examples::crawl
