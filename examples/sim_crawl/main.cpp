// sim_crawl: the crawler's crawl (examples/crawler/crawl.hpp) against
// http_server's handler (examples/http_server/site.cpp: http::StaticFiles
// mounted at "/" of a Router, served by http::Server) on a simulated network
// (sim::World), with faults drawn from the seed.
//
//   sim_crawl [--seed N] [--pages P] [--hours H]
//
// Two simulated hosts: "site" (192.0.2.1) writes a generated site of P pages
// (and directory indexes, a redirect per directory, links to other origins,
// an orphan page) to its simulated disk under /www and serves it on port 80;
// "crawler" (192.0.2.2) crawls http://192.0.2.1/. While it does, about one
// request in 20 is followed by the reset of a connection of the site (drawn
// among its established ones), about one in 100 by a stall of the site (50
// ms to 2 s), and once, at a drawn moment of the first round, the two hosts
// are partitioned for 30 s. With --hours H the crawl is done again every
// simulated minute until H simulated hours have passed.
//
// Checked after each round: the crawler fetched every reachable page exactly
// once (each URL recorded once, with 200, or 301 for a directory named
// without its slash), nothing else; the site answered every reachable path
// at least once and no other path; over the run, the site answered no more
// requests than the crawler sent, and answered a path more than once at most
// once per reset (a reset can land after the answer left and before it
// arrived: the crawler's retry then asks again, as it should for a GET).
//
// Prints one line, `pages=N unique=U faults=F events=E sim_seconds=S hash=H`,
// the same for the same arguments byte for byte, and exits 0; when a check
// fails, names it on stderr and exits 1.
#include <chrono>
#include <cinttypes>
#include <cstdint>
#include <cstdio>
#include <map>
#include <random>
#include <set>
#include <stdexcept>
#include <string>
#include <string_view>
#include <vector>

#include <corio/fs/dir.hpp>
#include <corio/fs/file.hpp>
#include <corio/http/server.hpp>
#include <corio/http/url.hpp>
#include <corio/net/tcp.hpp>
#include <corio/runtime/cancel.hpp>
#include <corio/runtime/timer.hpp>
#include <corio/sim/world.hpp>

#include "cli.hpp"
#include "crawler/crawl.hpp"
#include "http_server/site.hpp"

using namespace corio;
using namespace std::chrono_literals;
namespace crawl = corio::examples::crawl;

namespace {

constexpr std::uint16_t port = 80;

/// FNV-1a of a string: the same number on every run and every build.
std::uint64_t fnv1a(std::string_view s) noexcept {
    std::uint64_t h = 0xcbf29ce484222325ull;
    for (unsigned char c : s)
        h = (h ^ c) * 0x100000001b3ull;
    return h;
}
constexpr int dirs = 8;

/// The generated site: every file's content, and the paths a crawl from "/"
/// must fetch (with the status it gets).
struct Site {
    std::map<std::string, std::string> files;  // "/d1/p9.html" -> HTML
    std::map<std::string, int> reachable;      // "/d1/p9.html" -> 200, "/d1" -> 301

    static std::string page_path(std::size_t i) {
        return "/d" + std::to_string(i % dirs) + "/p" + std::to_string(i) + ".html";
    }
    static std::string html(const std::string& title, const std::vector<std::string>& links) {
        std::string h = "<!doctype html><html><head><title>" + title + "</title></head><body>\n";
        for (const auto& l : links)
            h += "<p><a href=\"" + l + "\">" + l + "</a></p>\n";
        return h + "</body></html>\n";
    }
    // A link from a page in directory `from_dir` to `path`: relative or
    // absolute, with a fragment now and then (all resolve to `path`).
    static std::string link(int from_dir, const std::string& path, std::uint64_t draw) {
        switch (draw % 3) {
            case 0:
                return path;
            case 1:
                return path + "#s" + std::to_string(draw % 7);
            default:
                return path.rfind("/d" + std::to_string(from_dir) + "/", 0) == 0
                           ? path.substr(path.rfind('/') + 1)
                           : ".." + path;
        }
    }

    Site(std::size_t pages, std::uint64_t seed) {
        std::mt19937_64 rng(seed ^ 0x517e'c4a7'1ull);
        files["/index.html"] =
            html("home", {"d0/p0.html", "d1/", "http://192.0.2.9/x.html",
                          "https://192.0.2.1/secure.html", "mailto:someone@example.com"});
        reachable["/"] = 200;
        reachable["/d1/"] = 200;
        for (std::size_t i = 0; i < pages; ++i) {
            const int d = int(i % dirs);
            std::vector<std::string> l;
            l.push_back(link(d, page_path((i + 1) % pages), rng()));  // the chain, a cycle
            l.push_back(link(d, page_path(rng() % pages), rng()));
            if (i % 20 == 0) {
                l.push_back("/d" + std::to_string(d) + "/");
                reachable["/d" + std::to_string(d) + "/"] = 200;
            }
            if (i % 40 == 1) {
                l.push_back("/d" + std::to_string(d));  // 301 to "/d/", a page of its own
                reachable["/d" + std::to_string(d)] = 301;
                reachable["/d" + std::to_string(d) + "/"] = 200;
            }
            if (i % 50 == 7) l.push_back("http://192.0.2.9/p" + std::to_string(i) + ".html");
            files[page_path(i)] = html("page " + std::to_string(i), l);
            reachable[page_path(i)] = 200;
        }
        for (int d = 0; d < dirs; ++d) {
            files["/d" + std::to_string(d) + "/index.html"] =
                html("dir " + std::to_string(d), {"../", "/d" + std::to_string(d) + "/"});
        }
        files["/orphan.html"] = html("nobody links here", {"/"});
    }
};

/// What both hosts and the fault injection share.
struct State {
    sim::World* world = nullptr;
    sim::Host* site = nullptr;
    sim::Host* crawler = nullptr;
    const Site* pages = nullptr;
    bool serving = false;
    std::string serve_error;
    std::map<std::string, std::uint64_t> served;  // this round, by path
    std::uint64_t served_total = 0;
    std::uint64_t resets = 0;
    std::uint64_t partition_at = 0;  // the request count of the first round that starts it
    bool partitioned = false;
};

/// Draws the faults a request brings: a reset of one of the site's
/// connections (1 in 20), a stall of the site (1 in 100), and the one
/// partition when the first round reaches its drawn request.
void faults_after_request(State* st) {
    sim::World& w = *st->world;
    const std::uint64_t r = w.rng()() % 100;
    const Duration soon = std::chrono::microseconds(w.rng()() % 4000);
    if (r < 5) {
        w.at(soon, [st] {
            if (st->world->reset_one_connection(*st->site)) ++st->resets;
        });
    } else if (r == 5) {
        const Duration d = 50ms + std::chrono::milliseconds(w.rng()() % 1950);
        w.at(soon, [st, d] { st->world->stall(*st->site, d); });
    }
    if (!st->partitioned && st->served_total == st->partition_at) {
        st->partitioned = true;
        w.at(soon, [st] {
            st->world->partition({st->site}, {st->crawler});
            st->world->at(30s, [st] { st->world->heal(); });
        });
    }
}

Task<void> write_site(State* st) {
    for (int d = 0; d < dirs; ++d) {
        auto r = co_await fs::create_directories("/www/d" + std::to_string(d));
        if (!r)
            throw std::runtime_error("mkdir /www/d" + std::to_string(d) + ": " +
                                     r.error().message());
    }
    for (const auto& [path, text] : st->pages->files) {
        auto r = co_await fs::write_file("/www" + path, std::string_view(text));
        if (!r) throw std::runtime_error("write /www" + path + ": " + r.error().message());
    }
}

/// The site host's program: the site on its disk, then http_server's
/// handler behind a counter that also draws the faults.
Task<void> site_main(State* st) {
    try {
        co_await write_site(st);
    } catch (const std::exception& e) {
        st->serve_error = e.what();
        co_return;
    }
    auto router = examples::static_site("/www", http::StaticOptions{});
    if (!router) {
        st->serve_error = "--root /www: " + router.error().message();
        co_return;
    }
    http::Handler counted = [st, site = std::move(*router)](http::Request& req) {
        ++st->served[std::string(req.path())];
        ++st->served_total;
        faults_after_request(st);
        return site(req);
    };
    http::Server srv(std::move(counted), examples::server_defaults());
    const auto addr = net::Address::parse(st->site->endpoint(port)).value("site address");
    auto l = net::TcpListener::bind(addr);
    if (!l) {
        st->serve_error = net::describe("listen", addr, l.error());
        co_return;
    }
    st->serving = true;
    StopSource never;
    co_await srv.run(std::move(*l), never.token());
}

struct Outcome {
    std::uint64_t pages = 0;
    std::uint64_t requests = 0;  // sent by the crawlers' clients
    std::set<std::string> unique;
    std::string failure;  // empty: every check held
};

/// One crawl of the site, checked against what it must fetch.
Task<void> crawl_round(State* st, int round, Outcome* out) {
    crawl::Config cfg;
    cfg.concurrency = 16;
    cfg.timeout = 120s;  // longer than the partition: a page waits it out
    cfg.retries = 6;
    cfg.user_agent = "corio-sim-crawl/0.1";
    crawl::Crawler cr(cfg, *http::Url::parse("http://" + st->site->ip() + "/"));
    std::map<std::string, std::pair<int, int>> got;  // path -> (times, status)
    std::string bad;
    cr.on_page = [&](const crawl::Page& p) {
        auto u = http::Url::parse(p.url);
        const std::string path = u ? u->path() : p.url;
        auto& g = got[path];
        ++g.first;
        g.second = p.status;
        st->world->note(fnv1a(path) ^ std::uint64_t(p.status));
        if (p.status == 0 && bad.empty()) bad = p.url + ": " + std::string(p.error);
        ++out->pages;
        out->unique.insert(p.url);
    };
    st->served.clear();
    co_await cr.run();
    const std::string where = "round " + std::to_string(round) + ": ";
    auto fail = [&](const std::string& why) {
        if (out->failure.empty()) out->failure = where + why;
    };
    if (!bad.empty()) fail("no answer for " + bad);
    for (const auto& [path, want] : st->pages->reachable) {
        auto it = got.find(path);
        if (it == got.end()) {
            fail(path + " was never fetched");
        } else if (it->second.first != 1) {
            fail(path + " was fetched " + std::to_string(it->second.first) + " times");
        } else if (it->second.second != want) {
            fail(path + " got " + std::to_string(it->second.second) + ", not " +
                 std::to_string(want));
        }
        if (st->served[path] == 0) fail("the site never answered " + path);
    }
    for (const auto& [path, g] : got) {
        if (!st->pages->reachable.contains(path)) fail(path + " is not reachable but was fetched");
    }
    for (const auto& [path, n] : st->served) {
        if (n > 0 && !st->pages->reachable.contains(path)) {
            fail("the site answered " + path + ", which nothing reachable links to");
        }
    }
    out->requests += cr.client().stats().requests;
}

Task<void> crawl_main(State* st, Duration hours, Outcome* out) {
    while (!st->serving) {
        if (!st->serve_error.empty()) {
            out->failure = "the site did not start: " + st->serve_error;
            co_return;
        }
        (void)co_await sleep_for(10ms);
    }
    const TimePoint end = Loop::current().now() + hours;
    for (int round = 1;; ++round) {
        const TimePoint started = Loop::current().now();
        co_await crawl_round(st, round, out);
        if (!out->failure.empty()) co_return;
        const TimePoint next = started + 1min;
        if (next >= end) {
            if (hours > Duration::zero()) (void)co_await sleep_until(end);  // the whole span
            co_return;
        }
        (void)co_await sleep_until(next);
    }
}

}  // namespace

int main(int argc, char** argv) {
    std::uint64_t seed = 1;
    std::size_t pages = 300;
    unsigned hours = 0;
    examples::Cli cli(
        argc, argv, "[options]",
        "Crawls a generated site served by http_server's handler on a simulated network\n"
        "(virtual time, no real socket, no real file), with connection resets, stalls and\n"
        "a 30 s partition drawn from the seed; checks every reachable page was fetched once.\n"
        "Prints `pages=N unique=U faults=F events=E sim_seconds=S hash=H` (N: pages crawled,\n"
        "U: distinct URLs); exit 0 when every check held, 1 (with the reason on stderr) when\n"
        "one failed. The same arguments print the same line.\n");
    cli.option("seed N", "decides everything that varies", seed, 0, UINT64_MAX);
    cli.option("pages P", "pages of the site, besides indexes and redirects", pages, 1, 100000);
    cli.option("hours H",
               "crawl again every simulated minute for H simulated hours\n(default 0: one crawl)",
               hours, 0, 10000);
    cli.option(
        "backend B", "only `sim`: the simulation is the backend", [&cli](const std::string& v) {
            if (v != "sim") {
                cli.fail("--backend: sim_crawl runs only on the simulation (sim), not '" + v + "'");
            }
        });
    cli.parse();
    try {
        Site site(pages, seed);
        // Declared before the world: its hosts' tasks point at them until
        // the world is gone.
        State st;
        Outcome out;
        sim::WorldOptions wo;
        wo.seed = seed;
        wo.use_env = false;  // --seed decides
        sim::World w(wo);
        st.world = &w;
        st.pages = &site;
        // The partition starts at a drawn request of the first round.
        st.partition_at = 1 + w.rng()() % (site.reachable.size() * 3 / 4 + 1);
        st.site = &w.add_host("site", [&st] { return site_main(&st); });
        st.crawler = &w.add_host("crawler");
        // World::block_on gives up after a simulated day: --hours may ask for more.
        JoinHandle<void> crawling =
            st.crawler->loop().spawn(crawl_main(&st, std::chrono::hours(hours), &out));
        if (!w.run_until([&] { return crawling.done(); }, std::chrono::hours(hours + 2))) {
            throw std::runtime_error("the crawl can never finish (deadlock or time limit); " +
                                     w.summary());
        }
        crawling.take_result();
        if (out.failure.empty() && st.served_total > out.requests) {
            out.failure = "the site answered " + std::to_string(st.served_total) +
                          " requests, the crawler sent " + std::to_string(out.requests);
        }
        const std::uint64_t repeats = st.served_total - out.pages;
        if (out.failure.empty() && st.served_total >= out.pages && repeats > st.resets) {
            out.failure = "the site answered " + std::to_string(repeats) +
                          " requests again, more than the " + std::to_string(st.resets) +
                          " resets explain";
        }
        const double secs = std::chrono::duration<double>(w.elapsed()).count();
        std::printf("pages=%" PRIu64 " unique=%zu faults=%" PRIu64 " events=%" PRIu64
                    " sim_seconds=%.3f hash=%016" PRIx64 "\n",
                    out.pages, out.unique.size(), w.faults(), w.events(), secs, w.hash());
        std::fflush(stdout);
        if (!out.failure.empty()) {
            std::fprintf(stderr, "sim_crawl: seed %" PRIu64 ": %s\n", seed, out.failure.c_str());
            return 1;
        }
    } catch (const std::exception& e) {
        std::fprintf(stderr, "sim_crawl: seed %" PRIu64 ": %s\n", seed, e.what());
        return 1;
    }
    return 0;
}
