#pragma once
// The crawl, shared by examples/crawler and examples/sim_crawl: the pages of the start URL's
// origin reachable by links, deduplicated in normal form, `concurrency` at a time (a Bulkhead),
// through one http::Client (keep-alive pool, retries, a circuit breaker). A redirect is a page.
#include <algorithm>
#include <chrono>
#include <functional>
#include <string>
#include <unordered_set>

#include <corio/corio.hpp>

#include "html.hpp"

namespace corio::examples::crawl {

/// How a crawl goes.
struct Config {
    std::size_t concurrency = 16;              ///< pages fetched at once
    std::size_t max_pages = 100000;            ///< no page is scheduled after this many
    std::chrono::milliseconds timeout{10000};  ///< of a page, the retries included
    int retries = 3;                           ///< of a connection error, 408 or 5xx
    int max_redirects = 5;                     ///< hops in a chain (each one a page)
    std::string user_agent = "corio-crawler/0.1";
    http::Connector connect;  ///< how connections are made (https too); unset: plain TCP
};

/// How one page ended.
struct Page {
    const std::string& url;  ///< in normal form
    int status;              ///< 0: no answer came
    std::size_t bytes;       ///< of the body
    std::string_view error;  ///< why no answer came (status 0)
};

/// One crawl from a start URL. Lives on one loop; run() once.
class Crawler {
public:
    Crawler(Config cfg, http::Url start) : cfg_(std::move(cfg)), start_(std::move(start)) {}

    std::function<void(const Page&)> on_page;  ///< called as each page ends

    /// Completes when every page reachable from the start URL has ended. Cancelling it
    /// cancels the pages in flight.
    Task<void> run() {
        TaskGroup pages;
        pages_ = &pages;
        schedule(start_, 0);
        co_await pages.wait();
        client_.close_idle();
    }

    std::uint64_t pages() const noexcept { return n_pages_; }
    std::uint64_t bytes() const noexcept { return bytes_; }
    std::uint64_t errors() const noexcept { return errors_; }  ///< no answer, or status >= 400
    const http::Client& client() const noexcept { return client_; }

private:
    // Schedules `url` if it is on the start URL's origin, new, and within the page budget.
    void schedule(http::Url url, int hops) {
        if (!(url.origin() == origin_) || seen_.size() >= cfg_.max_pages) return;
        if (seen_.insert(url.normalized()).second) pages_->spawn(page(std::move(url), hops));
    }

    Task<void> page(http::Url url, int hops) {
        const std::string name = url.normalized();
        if (hops > cfg_.max_redirects) co_return record(name, 0, 0, "too many redirects");
        const auto permit = co_await bulkhead_.acquire();
        if (!permit) co_return;                     // cancelled
        const auto r = co_await client_.get(name);  // retries included, within cfg_.timeout
        if (!r && r.error() == std::errc::operation_canceled) co_return;
        if (!r) co_return record(name, 0, 0, r.error().message());
        record(name, r->status, r->body.size(), {});
        const auto location = r->headers.get("Location");
        if (r->status >= 300 && r->status < 400 && location) {
            if (auto to = http::Url::resolve(url, *location)) schedule(std::move(*to), hops + 1);
            co_return;
        }
        const auto type = http::media_type(r->headers.get("Content-Type").value_or(""));
        const bool is_html =
            http::iequals(type, "text/html") || http::iequals(type, "application/xhtml+xml");
        if (r->status != 200 || !is_html) co_return;
        for (const std::string& link : html::extract_links(r->body)) {
            if (auto next = http::Url::resolve(url, link)) schedule(std::move(*next), 0);
        }
    }

    void record(const std::string& url, int status, std::size_t bytes, std::string_view error) {
        ++n_pages_;
        bytes_ += bytes;
        errors_ += status == 0 || status >= 400;
        if (on_page) on_page(Page{url, status, bytes, error});
    }

    Config cfg_;
    http::Url start_;
    http::Origin origin_ = start_.origin();  // made once: compared with every link's
    Bulkhead bulkhead_{cfg_.concurrency};
    http::Client client_{{
        .max_idle_per_origin = cfg_.concurrency,
        .timeout = cfg_.timeout,
        .max_redirects = 0,  // a redirect is a page of its own
        .user_agent = cfg_.user_agent,
        .retry = RetryPolicy{.max_attempts = 1 + cfg_.retries},  // jittered backoff from 100 ms
        // Opens when 80% of the last `window` calls failed: a dead host fails fast, one that
        // fails each page once (and then answers) keeps being called.
        .breaker = BreakerOptions{.failure_threshold = 0,
                                  .window = int(std::max<std::size_t>(20, 2 * cfg_.concurrency)),
                                  .failure_ratio = 0.8,
                                  .cool_down = std::chrono::seconds(2)},
        .connect = cfg_.connect,
    }};
    std::unordered_set<std::string> seen_;
    TaskGroup* pages_ = nullptr;
    std::uint64_t n_pages_ = 0, bytes_ = 0, errors_ = 0;
};

}  // namespace corio::examples::crawl
