// examples/crawler on the backend of this run (CORIO_BACKEND).
//
// A site of several hundred linked pages (a chain that closes into a cycle,
// cross links with fragments, relative links up and down directories, a
// directory linked without its slash (301), broken links (404), a link to
// another port and another host that must not be followed, an orphan page
// that must not be found) is written to a temporary directory and crawled
// twice: served by examples/http_server and by `python3 -m http.server`.
// The --out listing must be exactly the expected set (each reachable URL
// once, with its status), computed here by walking the same link graph.
//
// A third server, written here, fails every path once with 503 (sometimes
// closing the connection) and sends some pages chunked: every page must be
// fetched, none more often than the retry policy allows, and a page linked
// only from a chunked page must be found.
#include <atomic>
#include <map>
#include <mutex>
#include <set>
#include <sstream>
#include <thread>

#include <corio/http/codec.hpp>
#include <corio/http/url.hpp>
#include "../examples/crawler/html.hpp"

#include "site/harness.hpp"
#include "support.hpp"

namespace examples_crawler_test {

namespace {

using namespace corio::test::site;
namespace http = corio::http;
using corio::http::Url;

constexpr int pages = 300;

/// The generated site: every file with the links it holds.
struct Site {
    std::map<std::string, std::string> files;  // path ("/p1.html") -> content
    std::set<std::string> dirs;                // "/dir" (without the slash)

    void page(const std::string& path, const std::vector<std::string>& links, bool img = false) {
        std::ostringstream html;
        html << "<!doctype html><html><head><title>" << path << "</title>";
        html << "<link rel=\"stylesheet\" href=\"/style.css\"></head><body>\n";
        for (const auto& l : links)
            html << "<p><a href=\"" << l << "\">" << l << "</a></p>\n";
        if (img) html << "<img src=\"img/logo.png\" alt=\"\">\n";
        html << "<!-- <a href=\"commented-out.html\">x</a> -->\n";
        html << "<script>var s = '<a href=\"in-script.html\">';</script>\n";
        html << "</body></html>\n";
        files[path] = html.str();
        for (std::string d = path.substr(0, path.rfind('/')); !d.empty();
             d = d.substr(0, d.rfind('/'))) {
            dirs.insert(d);
        }
    }

    explicit Site(int other_port) {
        page("/index.html",
             {"p0.html", "dir", "sec/s0.html", "p1.html?v=1", "p1.html#top", "#top",
              "mailto:someone@example.com", "javascript:void(0)",
              "http://127.0.0.1:" + std::to_string(other_port) + "/elsewhere.html",
              "http://other-host.invalid/x.html", "https://127.0.0.1/secure.html", "c.html"},
             true);
        for (int i = 0; i < pages; ++i) {
            std::vector<std::string> l;
            l.push_back("p" + std::to_string((i + 1) % pages) + ".html");  // the chain, a cycle
            l.push_back("/p" + std::to_string((i * 7 + 3) % pages) + ".html#frag");
            if (i % 10 == 0) l.push_back("missing" + std::to_string(i % 7) + ".html");
            if (i % 25 == 0) l.push_back("./sec/s" + std::to_string(i / 25) + ".html");
            page("/p" + std::to_string(i) + ".html", l, i % 50 == 0);
        }
        for (int j = 0; j < 12; ++j) {
            page("/sec/s" + std::to_string(j) + ".html",
                 {"../p" + std::to_string(j * 3) + ".html",
                  "s" + std::to_string((j + 1) % 12) + ".html", "../dir/", "gone.html"});
        }
        page("/dir/index.html", {"../p5.html", "deep", "deep/"});
        page("/dir/deep/index.html", {"../../p6.html", "../", "/"});
        page("/c.html", {"only-via-chunked.html"});
        page("/only-via-chunked.html", {"p7.html"});
        page("/orphan.html", {"p0.html", "orphan-child.html"});  // nothing links here
        page("/orphan-child.html", {});
        files["/style.css"] = "a { color: red } /* url(not-followed.png) */\n";
        files["/img/logo.png"] = std::string("\x89PNG\r\n\x1a\n", 8) + std::string(300, '\x01');
        dirs.insert("/img");
    }

    void write(const std::string& root) const {
        for (const auto& [path, content] : files)
            write_file(root + path, content);
    }

    /// What a correct static server answers for `path`: status, body, location.
    struct Answer {
        int status = 404;
        const std::string* body = nullptr;
        std::string location;
    };
    Answer answer(std::string path) const {
        Answer a;
        if (path.empty()) path = "/";
        if (path.back() == '/') {
            auto it = files.find(path + "index.html");
            if (it != files.end() && (path == "/" || dirs.count(path.substr(0, path.size() - 1)))) {
                a.status = 200;
                a.body = &it->second;
            }
            return a;
        }
        if (auto it = files.find(path); it != files.end()) {
            a.status = 200;
            a.body = &it->second;
        } else if (dirs.count(path) != 0) {
            a.status = 301;
            a.location = path + "/";
        }
        return a;
    }

    static bool is_html(const std::string& path) {
        if (!path.empty() && path.back() == '/') return true;
        return path.size() >= 5 && path.compare(path.size() - 5, 5, ".html") == 0;
    }

    /// "STATUS URL" for every URL a crawl from `origin`/ must list, and how
    /// many of them are errors.
    std::set<std::string> expected(const std::string& origin, int* errors) const {
        std::set<std::string> out;
        std::set<std::string> seen;
        std::vector<Url> queue;
        auto start = Url::parse(origin + "/");
        REQUIRE(start);
        queue.push_back(*start);
        seen.insert(start->normalized());
        *errors = 0;
        for (std::size_t i = 0; i < queue.size(); ++i) {
            const Url url = queue[i];
            Answer a = answer(url.path());
            out.insert(std::to_string(a.status) + " " + url.normalized());
            if (a.status >= 400) ++*errors;
            std::vector<std::string> links;
            if (a.status == 301) links.push_back(a.location);
            if (a.status == 200 && is_html(url.path()))
                links = corio::examples::html::extract_links(*a.body);
            for (const auto& l : links) {
                auto next = Url::resolve(url, l);
                if (!next || next->scheme() != "http" || !(next->origin() == start->origin()))
                    continue;
                if (seen.insert(next->normalized()).second) queue.push_back(*next);
            }
        }
        return out;
    }
};

#define NEED(bin, dir, name)                                   \
    const std::string bin = example_binary(dir, name);         \
    if (bin.empty()) {                                         \
        WARN("examples/" dir "/" name " not built: skipping"); \
        return;                                                \
    }

struct CrawlResult {
    int status = -1;
    std::string stdout_text;
    std::set<std::string> lines;
    std::size_t line_count = 0;
    long pages = -1, bytes = -1, errors = -1, elapsed_ms = -1;
};

CrawlResult crawl(const std::string& bin, const std::string& url, const std::string& out_path,
                  std::vector<std::string> extra = {}) {
    std::vector<std::string> args{url, "--out", out_path, "--backend", backend_name(), "--quiet"};
    args.insert(args.end(), extra.begin(), extra.end());
    Child c(bin, args, 90);
    CrawlResult r;
    r.stdout_text = c.read_all();
    r.status = c.wait(90s);
    std::ifstream f(out_path);
    std::string line;
    while (std::getline(f, line)) {
        r.lines.insert(line);
        ++r.line_count;
    }
    std::sscanf(r.stdout_text.c_str(), "pages=%ld bytes=%ld errors=%ld elapsed_ms=%ld", &r.pages,
                &r.bytes, &r.errors, &r.elapsed_ms);
    return r;
}

/// A listening socket that must see no connection.
struct Trap {
    int fd = -1;
    int port = 0;
    Trap() {
        fd = ::socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
        sockaddr_in a{};
        a.sin_family = AF_INET;
        a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
        ::bind(fd, reinterpret_cast<sockaddr*>(&a), sizeof a);
        ::listen(fd, 16);
        socklen_t len = sizeof a;
        ::getsockname(fd, reinterpret_cast<sockaddr*>(&a), &len);
        port = ntohs(a.sin_port);
    }
    ~Trap() { ::close(fd); }
    bool touched() const {
        int c = ::accept4(fd, nullptr, nullptr, SOCK_CLOEXEC);
        if (c >= 0) ::close(c);
        return c >= 0;
    }
};

void check_crawl(const Site& site, const std::string& origin, const CrawlResult& r) {
    int errors = 0;
    const auto want = site.expected(origin, &errors);
    INFO("crawler stdout: " << r.stdout_text);
    CHECK(r.status == 0);
    CHECK(r.line_count == r.lines.size());  // nothing listed twice
    CHECK(r.lines.size() == want.size());
    for (const auto& w : want) {
        if (r.lines.count(w) == 0) FAIL_CHECK("missing from --out: " << w);
    }
    for (const auto& l : r.lines) {
        if (want.count(l) == 0) FAIL_CHECK("unexpected in --out: " << l);
    }
    CHECK(r.pages == long(want.size()));
    CHECK(r.errors == errors);
    CHECK(r.bytes > 0);
    CHECK(want.size() > std::size_t(pages));
    CHECK(errors >= 8);  // the broken links
}

/// Serves the site from memory, failing the first request for every path
/// with 503 (every third one also closing the connection), and sending the
/// pages whose number is even (and c.html) chunked. Counts requests per path.
class FlakyServer {
public:
    explicit FlakyServer(const Site& site) : site_(site) {
        lfd_ = ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
        int one = 1;
        ::setsockopt(lfd_, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
        sockaddr_in a{};
        a.sin_family = AF_INET;
        a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
        ::bind(lfd_, reinterpret_cast<sockaddr*>(&a), sizeof a);
        ::listen(lfd_, 128);
        socklen_t len = sizeof a;
        ::getsockname(lfd_, reinterpret_cast<sockaddr*>(&a), &len);
        port_ = ntohs(a.sin_port);
        acceptor_ = std::thread([this] { accept_loop(); });
    }
    ~FlakyServer() {
        stopping_ = true;
        ::shutdown(lfd_, SHUT_RDWR);
        acceptor_.join();
        {
            std::lock_guard lk(mu_);
            for (int fd : clients_)
                ::shutdown(fd, SHUT_RDWR);
        }
        for (auto& t : workers_)
            t.join();
        for (int fd : clients_)
            ::close(fd);
        ::close(lfd_);
    }
    int port() const { return port_; }
    std::map<std::string, int> hits() {
        std::lock_guard lk(mu_);
        return hits_;
    }

private:
    void accept_loop() {
        for (;;) {
            int fd = ::accept4(lfd_, nullptr, nullptr, SOCK_CLOEXEC);
            if (fd < 0) {
                if (stopping_) return;
                continue;
            }
            std::lock_guard lk(mu_);
            clients_.push_back(fd);
            workers_.emplace_back([this, fd] { serve(fd); });
        }
    }
    static bool send_all(int fd, const std::string& s) {
        std::size_t off = 0;
        while (off < s.size()) {
            ssize_t n = ::send(fd, s.data() + off, s.size() - off, MSG_NOSIGNAL);
            if (n <= 0) return false;
            off += std::size_t(n);
        }
        return true;
    }
    void serve(int fd) {
        http::RequestParser parser;
        std::string buf;
        char b[8192];
        for (;;) {
            while (parser.state() != http::ParseState::done) {
                if (!buf.empty()) {
                    buf.erase(0, parser.feed(buf));
                    if (parser.state() == http::ParseState::error) return;
                    if (parser.state() == http::ParseState::done) break;
                }
                ssize_t n = ::recv(fd, b, sizeof b, 0);
                if (n <= 0) return;
                buf.append(b, std::size_t(n));
            }
            std::string target = parser.request().target;
            parser.reset();
            std::string path = target.substr(0, target.find('?'));
            int hit;
            bool close = false;
            {
                std::lock_guard lk(mu_);
                hit = ++hits_[target];
                if (hit == 1) close = first_hits_++ % 3 == 0;
            }
            std::string resp;
            if (hit == 1) {
                resp = std::string("HTTP/1.1 503 Service Unavailable\r\nContent-Length: 5\r\n") +
                       (close ? "Connection: close\r\n" : "") + "\r\nlater";
                if (!send_all(fd, resp) || close) return;
                continue;
            }
            Site::Answer a = site_.answer(path);
            if (a.status == 301) {
                resp = "HTTP/1.1 301 Moved Permanently\r\nLocation: " + a.location +
                       "\r\nContent-Length: 0\r\n\r\n";
            } else if (a.status == 404) {
                resp = "HTTP/1.1 404 Not Found\r\nContent-Length: 9\r\n\r\nnot found";
            } else {
                const std::string type =
                    Site::is_html(path) ? "text/html; charset=utf-8" : "application/octet-stream";
                const bool chunked = path == "/c.html" || (path.rfind("/p", 0) == 0 &&
                                                           std::atoi(path.c_str() + 2) % 2 == 0);
                if (chunked) {
                    resp = "HTTP/1.1 200 OK\r\nContent-Type: " + type +
                           "\r\nTransfer-Encoding: chunked\r\n\r\n";
                    const std::string& body = *a.body;
                    for (std::size_t off = 0; off < body.size(); off += 37) {
                        std::size_t n = std::min<std::size_t>(37, body.size() - off);
                        char hex[16];
                        std::snprintf(hex, sizeof hex, "%zx\r\n", n);
                        resp += hex;
                        resp += body.substr(off, n);
                        resp += "\r\n";
                    }
                    resp += "0\r\n\r\n";
                } else {
                    resp = "HTTP/1.1 200 OK\r\nContent-Type: " + type +
                           "\r\nContent-Length: " + std::to_string(a.body->size()) + "\r\n\r\n" +
                           *a.body;
                }
            }
            if (!send_all(fd, resp)) return;
        }
    }

    const Site& site_;
    int lfd_ = -1;
    int port_ = 0;
    std::atomic<bool> stopping_{false};
    std::thread acceptor_;
    std::mutex mu_;
    std::vector<int> clients_;
    std::vector<std::thread> workers_;
    std::map<std::string, int> hits_;
    int first_hits_ = 0;
};

}  // namespace

TEST_CASE("crawler: the site served by examples/http_server", "[examples][crawler]") {
    NEED(crawler, "crawler", "crawler");
    NEED(server, "http_server", "http_server");
    Trap trap;
    Site site(trap.port);
    TempDir dir("corio-crawl");
    site.write(dir / "root");
    Child srv(server, {"--root", dir / "root", "--port", "0", "--backend", backend_name()});
    auto line = srv.read_line(10s);
    REQUIRE(line);
    const int port = port_of_ready_line(*line);
    REQUIRE(port > 0);
    const std::string origin = "http://127.0.0.1:" + std::to_string(port);
    for (std::string conc : {"1", "16", "64"}) {
        INFO("concurrency " << conc);
        auto r = crawl(crawler, origin + "/", dir / "out.txt", {"--concurrency", conc});
        check_crawl(site, origin, r);
    }
    CHECK_FALSE(trap.touched());
    CHECK(srv.stop() == 0);
}

TEST_CASE("crawler: the site served by python3 -m http.server", "[examples][crawler]") {
    NEED(crawler, "crawler", "crawler");
    if (::system("python3 -c 'import http.server' >/dev/null 2>&1") != 0) {
        WARN("python3 not available: skipping");
        return;
    }
    Trap trap;
    Site site(trap.port);
    TempDir dir("corio-crawl-py");
    site.write(dir / "root");
    const int port = free_port();
    Child py("python3",
             {"-m", "http.server", "--bind", "127.0.0.1", std::to_string(port), "--directory",
              dir / "root"},
             120, true);
    REQUIRE(wait_for_port(port, 15s));
    const std::string origin = "http://127.0.0.1:" + std::to_string(port);
    auto r = crawl(crawler, origin + "/", dir / "out.txt", {"--concurrency", "8"});
    check_crawl(site, origin, r);
    CHECK_FALSE(trap.touched());
}

TEST_CASE("crawler: pages that fail once with 503 are retried, chunked pages parsed",
          "[examples][crawler]") {
    NEED(crawler, "crawler", "crawler");
    Trap trap;
    Site site(trap.port);
    TempDir dir("corio-crawl-flaky");
    FlakyServer flaky(site);
    const std::string origin = "http://127.0.0.1:" + std::to_string(flaky.port());
    const int retries = 3;
    auto r = crawl(crawler, origin + "/", dir / "out.txt",
                   {"--concurrency", "8", "--retries", std::to_string(retries)});
    check_crawl(site, origin, r);
    CHECK(r.lines.count("200 " + origin + "/only-via-chunked.html") == 1);
    auto hits = flaky.hits();
    CHECK(hits.size() == r.lines.size());
    for (const auto& [target, n] : hits) {
        INFO(target);
        CHECK(n >= 2);
        CHECK(n <= 1 + retries);
    }
    CHECK_FALSE(trap.touched());
}

// https start URLs are crawled now (tests/examples_https.cpp).
TEST_CASE("crawler: a dead server and bad arguments", "[examples][crawler]") {
    NEED(crawler, "crawler", "crawler");
    TempDir dir("corio-crawl-dead");
    const int port = free_port();  // nothing listens there
    auto t0 = std::chrono::steady_clock::now();
    auto r = crawl(crawler, "http://127.0.0.1:" + std::to_string(port) + "/", dir / "out.txt",
                   {"--timeout-ms", "3000"});
    CHECK(std::chrono::steady_clock::now() - t0 < 10s);
    CHECK(r.status == 0);
    CHECK(r.pages == 1);
    CHECK(r.errors == 1);
    CHECK(r.lines.count("ERR http://127.0.0.1:" + std::to_string(port) + "/") == 1);

    for (std::vector<std::string> args : {std::vector<std::string>{"ftp://x/"},
                                          {"not a url"},
                                          {},
                                          {"http://127.0.0.1/", "--concurrency", "0"},
                                          {"http://127.0.0.1/", "--bogus"},
                                          {"http://127.0.0.1/", "--quiet=1"},  // takes no value
                                          {"http://127.0.0.1/", "--timeout-ms"},
                                          {"http://127.0.0.1/", "--out", dir / "no/such.txt"}}) {
        Child c(crawler, args, 30, true);
        CHECK(c.wait(30s) == 2);
    }
    // A listing that cannot be written (a full disk) fails the run, after the summary.
    if (::access("/dev/full", W_OK) == 0) {
        Child c(crawler,
                {"http://127.0.0.1:" + std::to_string(port) + "/", "--out", "/dev/full",
                 "--backend", backend_name(), "--quiet", "--timeout-ms", "3000"},
                30, true);
        CHECK(c.read_all().starts_with("pages=1 "));
        CHECK(c.wait(30s) == 1);
    }
}

}  // namespace examples_crawler_test
