#pragma once
// The crawl loop, shared by examples/crawler and examples/sim_crawl: the pages on the start
// URL's origin (scheme, host and port) reachable by links, deduplicated in normal form,
// fetched `concurrency` at a time through http::Client (pooled keep-alive connections,
// retries with backoff and full jitter, a circuit breaker per origin). A redirect's target is
// a page of its own.
//
//   crawl::Crawler cr(cfg, *http::Url::parse("http://127.0.0.1:8080/"));
//   cr.on_page = [](const crawl::Page& p) { std::printf("%d %s\n", p.status, p.url.c_str()); };
//   co_await cr.run();

#include <chrono>
#include <cstddef>
#include <cstdint>
#include <functional>
#include <string>
#include <string_view>
#include <unordered_set>

#include <corio/http/client.hpp>
#include <corio/http/url.hpp>
#include <corio/runtime/resilience.hpp>
#include <corio/runtime/task.hpp>
#include <corio/runtime/task_group.hpp>

namespace corio::examples::crawl {

/// How a crawl goes.
struct Config {
    std::size_t concurrency = 16;              ///< pages fetched at once
    std::size_t max_pages = 100000;            ///< no page is scheduled after this many
    std::chrono::milliseconds timeout{10000};  ///< of one attempt at a page, retries included
    int retries = 3;                           ///< of a connection error or 5xx, by the client
    int max_redirects = 5;                     ///< hops in a chain (each one a page)
    /// Attempts at a page: one that ends without an answer (its deadline passed, the client's
    /// retries ran out) or with 408 is made again after `page_retry_delay` times the number
    /// of attempts so far.
    int page_attempts = 1;
    std::chrono::milliseconds page_retry_delay{1000};
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
    Crawler(Config cfg, http::Url start);
    Crawler(const Crawler&) = delete;
    Crawler& operator=(const Crawler&) = delete;

    /// Called as each page ends (exactly once per page scheduled).
    std::function<void(const Page&)> on_page;

    /// Crawls every page reachable by links from the start URL on its origin; completes when
    /// every scheduled page has ended. Cancelling it cancels the pages in flight.
    Task<void> run();

    std::uint64_t pages() const noexcept { return pages_; }
    std::uint64_t bytes() const noexcept { return bytes_; }
    /// Pages without an answer or with a status of 400 or more.
    std::uint64_t errors() const noexcept { return errors_; }
    std::size_t in_flight() const noexcept { return bulkhead_.in_flight(); }
    std::size_t waiting() const noexcept { return bulkhead_.waiting(); }
    const http::Client& client() const noexcept { return client_; }
    TimePoint started() const noexcept { return started_; }

private:
    void schedule(http::Url url, int hops);
    Task<void> page(http::Url url, int hops);
    Task<Result<http::ClientResponse>> fetch(std::string url);
    void record(const std::string& url, int status, std::size_t bytes, std::string_view error);

    Config cfg_;
    http::Url start_;
    http::Origin origin_;
    Bulkhead bulkhead_;
    http::Client client_;
    std::unordered_set<std::string> seen_;
    TaskGroup* pages_group_ = nullptr;
    TimePoint started_{};
    std::uint64_t pages_ = 0;
    std::uint64_t bytes_ = 0;
    std::uint64_t errors_ = 0;
};

}  // namespace corio::examples::crawl
