// Micro benchmarks of the core: task create+await+destroy, spawn+run, and a
// nop round trip through the loop on each backend beside a raw liburing nop
// loop in the same binary (the floor a runtime can approach); send_all over
// loopback TCP with and without zero-copy (where net::set_zero_copy_threshold
// starts to pay); the HTTP codecs of http::compress() and http::sse: gzip of a
// page at once and write by write (sync-flushed, as compress() sends a
// stream), decoding it, and parsing an event stream; parsing an upload
// (multipart/form-data) and a query string.
//
//   build/bench/micro --benchmark_repetitions=5 --benchmark_report_aggregates_only=true
#include <benchmark/benchmark.h>
#include <liburing.h>

#include <sys/socket.h>

#include <cstdint>
#include <span>
#include <string>
#include <vector>

#include <corio/http/content_coding.hpp>
#include <corio/http/form.hpp>
#include <corio/http/multipart.hpp>
#include <corio/http/sse_codec.hpp>
#include <corio/net/tcp.hpp>
#include <corio/runtime/loop.hpp>
#include <corio/runtime/ops.hpp>
#include <corio/runtime/timer.hpp>
#include <corio/runtime/when_all.hpp>

using namespace corio;

namespace {

LoopOptions opts(BackendChoice b) {
    LoopOptions o;
    o.backend = b;
    o.use_env = false;
    return o;
}

Task<int> trivial(int x) {
    co_return x + 1;
}

void task_await(benchmark::State& state) {
    Loop loop(opts(BackendChoice::automatic));
    auto body = [](benchmark::State& s) -> Task<void> {
        int acc = 0;
        for (auto _ : s) {
            acc = co_await trivial(acc);
            benchmark::DoNotOptimize(acc);
        }
    };
    loop.block_on(body(state));
}
BENCHMARK(task_await)->Name("task create+await+destroy");

Task<void> empty() {
    co_return;
}

void spawn_run(benchmark::State& state) {
    Loop loop(opts(BackendChoice::automatic));
    auto body = [](Loop& l, benchmark::State& s) -> Task<void> {
        for (auto _ : s) {
            auto h = l.spawn(empty());
            co_await h;
        }
    };
    loop.block_on(body(loop, state));
}
BENCHMARK(spawn_run)->Name("spawn+run+join");

void spawn_batch(benchmark::State& state) {
    Loop loop(opts(BackendChoice::automatic));
    for (auto _ : state) {
        for (int i = 0; i < 1000; ++i)
            loop.spawn(empty()).detach();
        loop.run();
    }
    state.SetItemsProcessed(state.iterations() * 1000);
}
BENCHMARK(spawn_batch)->Name("spawn detached x1000 + run");

void nop_round_trip(benchmark::State& state) {
    auto backend = state.range(0) == 0 ? BackendChoice::io_uring : BackendChoice::epoll;
    Loop loop(opts(backend));
    state.SetLabel(std::string(to_string(loop.kind())));
    auto body = [](benchmark::State& s) -> Task<void> {
        for (auto _ : s) {
            auto r = co_await nop();
            benchmark::DoNotOptimize(r);
        }
    };
    loop.block_on(body(state));
    state.counters["syscalls/op"] =
        benchmark::Counter(double(loop.stats().syscalls) / double(state.iterations()));
}
BENCHMARK(nop_round_trip)->Name("corio nop round trip")->Arg(0)->Arg(1);

// The same round trip written by hand against liburing, with the same setup
// flags corio picks: one SQE, one submit-and-wait, one CQE.
void raw_liburing_nop(benchmark::State& state) {
    io_uring ring;
    io_uring_params p{};
    p.flags = IORING_SETUP_SINGLE_ISSUER | IORING_SETUP_DEFER_TASKRUN | IORING_SETUP_SUBMIT_ALL;
    if (io_uring_queue_init_params(256, &ring, &p) < 0) {
        p.flags = 0;
        if (io_uring_queue_init_params(256, &ring, &p) < 0) {
            state.SkipWithError("io_uring unavailable");
            return;
        }
    }
    io_uring_register_ring_fd(&ring);
    for (auto _ : state) {
        io_uring_sqe* sqe = io_uring_get_sqe(&ring);
        io_uring_prep_nop(sqe);
        io_uring_sqe_set_data64(sqe, 1);
        io_uring_submit_and_wait(&ring, 1);
        io_uring_cqe* cqe;
        io_uring_peek_cqe(&ring, &cqe);
        benchmark::DoNotOptimize(cqe->res);
        io_uring_cqe_seen(&ring, cqe);
    }
    io_uring_queue_exit(&ring);
}
BENCHMARK(raw_liburing_nop)->Name("raw liburing nop round trip");

// 64 coroutines each awaiting nops: how batching amortises the enter.
void nop_batched(benchmark::State& state) {
    auto backend = state.range(0) == 0 ? BackendChoice::io_uring : BackendChoice::epoll;
    Loop loop(opts(backend));
    state.SetLabel(std::string(to_string(loop.kind())));
    for (auto _ : state) {
        auto body = []() -> Task<void> {
            for (int i = 0; i < 100; ++i) {
                auto r = co_await nop();
                benchmark::DoNotOptimize(r);
            }
        };
        for (int i = 0; i < 64; ++i)
            loop.spawn(body()).detach();
        loop.run();
    }
    state.SetItemsProcessed(state.iterations() * 64 * 100);
}
BENCHMARK(nop_batched)->Name("corio nop x64 concurrent")->Arg(0)->Arg(1);

void timer_zero(benchmark::State& state) {
    Loop loop(opts(BackendChoice::automatic));
    auto body = [](benchmark::State& s) -> Task<void> {
        for (auto _ : s)
            co_await yield();
    };
    loop.block_on(body(state));
}
BENCHMARK(timer_zero)->Name("yield to the loop");

}  // namespace

// send_all of one buffer over loopback TCP to a reader on the same loop that
// discards what it gets: copying (IORING_OP_SEND) against zero-copy
// (IORING_OP_SEND_ZC, which resumes on the second completion). CPU time per
// byte is both tasks' work and the kernel's; over loopback the kernel copies
// a zero-copy buffer on receive, so what this measures is the cost of the
// notification path (see the README: zero-copy is off by default).
Task<void> discard(net::TcpStream& r, std::span<std::byte> buf) {
    for (;;) {
        auto n = co_await r.recv(buf);
        if (!n || *n == 0) co_return;
    }
}

void send_all_zc(benchmark::State& state) {
    const auto size = static_cast<std::size_t>(state.range(0));
    const bool zc = state.range(1) != 0;
    net::set_zero_copy_threshold(zc ? 1 : 0);
    Loop loop(opts(BackendChoice::io_uring));
    auto body = [](benchmark::State& s, std::size_t n, bool zc) -> Task<void> {
        if (zc && !net::detail::zero_copy_available()) {
            s.SkipWithError("this kernel has no IORING_OP_SEND_ZC");
            co_return;
        }
        auto l = net::TcpListener::bind(net::Address::loopback_v4(0));
        if (!l) {
            s.SkipWithError("bind failed");
            co_return;
        }
        auto [c, r] = co_await when_all(net::TcpStream::connect(*l->local_address()), l->accept());
        if (!c || !r) {
            s.SkipWithError("connect failed");
            co_return;
        }
        std::vector<std::byte> out(n, std::byte{'z'});
        std::vector<std::byte> in(256 * 1024);
        auto reader = Loop::current().spawn(discard(*r, in));
        for (auto _ : s) {
            auto w = co_await c->send_all(out);
            if (!w) {
                s.SkipWithError("send_all failed");
                break;
            }
        }
        (void)c->shutdown(SHUT_WR);
        co_await reader;
    };
    loop.block_on(body(state, size, zc));
    net::set_zero_copy_threshold(0);
    state.SetLabel(zc ? "zero-copy" : "copy");
    state.SetBytesProcessed(static_cast<std::int64_t>(state.iterations() * size));
}
BENCHMARK(send_all_zc)
    ->Name("tcp send_all loopback")
    ->ArgsProduct({{4096, 16384, 65536, 262144, 1048576}, {0, 1}});

// A text page that compresses about as HTML does (repeated markup, varying numbers).
std::string text_page(std::size_t size) {
    std::string s;
    for (int i = 0; s.size() < size; ++i) {
        s += "<tr><td class=\"n\">" + std::to_string(i * 7919 % 10007) + "</td><td>item name " +
             std::to_string(i) + "</td></tr>\n";
    }
    s.resize(size);
    return s;
}

void gzip_page(benchmark::State& state) {
    const std::string page = text_page(std::size_t(state.range(0)));
    std::size_t out = 0;
    for (auto _ : state) {
        std::string z = http::gzip(page, 6);
        out = z.size();
        benchmark::DoNotOptimize(z.data());
    }
    state.SetBytesProcessed(std::int64_t(state.iterations() * page.size()));
    state.counters["ratio"] = double(page.size()) / double(out);
}
BENCHMARK(gzip_page)->Name("http::gzip level 6 (text page)")->Arg(4096)->Arg(65536);

// compress()'s streamed body: every write sync-flushed; 256-byte events.
void gzip_stream_writes(benchmark::State& state) {
    const std::string page = text_page(256 * 64);
    std::size_t out = 0;
    for (auto _ : state) {
        http::GzipEncoder enc(6);
        std::string z;
        for (std::size_t at = 0; at < page.size(); at += 256) {
            z.clear();
            enc.write(std::string_view(page).substr(at, 256), z);
            out += z.size();
        }
        z.clear();
        enc.finish({}, z);
        benchmark::DoNotOptimize(z.data());
    }
    state.SetBytesProcessed(std::int64_t(state.iterations() * page.size()));
    state.counters["ratio"] = double(state.iterations() * page.size()) / double(out);
    state.SetLabel("64 writes of 256 B per iteration");
}
BENCHMARK(gzip_stream_writes)->Name("http::GzipEncoder sync-flushed writes");

void decode_page(benchmark::State& state) {
    const std::string page = text_page(std::size_t(state.range(0)));
    const std::string z = http::gzip(page, 6);
    for (auto _ : state) {
        auto r = http::decode_content("gzip", z, page.size());
        benchmark::DoNotOptimize(r->data());
    }
    state.SetBytesProcessed(std::int64_t(state.iterations() * page.size()));
}
BENCHMARK(decode_page)->Name("http::decode_content gzip (text page)")->Arg(4096)->Arg(65536);

void sse_parse(benchmark::State& state) {
    std::string wire;
    for (int i = 0; i < 1000; ++i) {
        http::sse::Event e;
        e.type = "update";
        e.id = std::to_string(i);
        e.data = R"({"price": )" + std::to_string(i * 31 % 997) + R"(, "symbol": "CRIO"})";
        (void)http::sse::format_event(e, wire);
    }
    std::vector<http::sse::Event> events;
    for (auto _ : state) {
        http::sse::Parser p;
        events.clear();
        for (std::size_t at = 0; at < wire.size(); at += 4096) {  // as reads of 4 KiB give it
            (void)p.feed(std::string_view(wire).substr(at, 4096), events);
        }
        benchmark::DoNotOptimize(events.data());
    }
    state.SetItemsProcessed(std::int64_t(state.iterations() * 1000));
    state.SetBytesProcessed(std::int64_t(state.iterations() * wire.size()));
}
BENCHMARK(sse_parse)->Name("http::sse::Parser, 1000 JSON events");

// An upload as MultipartReader takes it: a 1 MiB file and a field, fed 16 KiB at a time (its
// read size), every body byte taken from data().
void multipart_parse(benchmark::State& state) {
    std::vector<http::FormPart> parts(2);
    parts[0].name = "title";
    parts[0].body = "holiday";
    parts[1].name = "file";
    parts[1].filename = "photo.jpg";
    parts[1].content_type = "image/jpeg";
    parts[1].body = text_page(1 << 20);
    // A body with many CRLFs and dashes: the worst case for the delimiter search.
    for (std::size_t i = 0; i + 4 < parts[1].body.size(); i += 61)
        parts[1].body.replace(i, 4, "\r\n--");
    const http::MultipartBody m = http::format_multipart(parts);
    const std::string boundary = *http::multipart_boundary(m.content_type);
    std::size_t bytes = 0;
    for (auto _ : state) {
        http::MultipartParser p(boundary);
        std::size_t at = 0;
        bytes = 0;
        for (;;) {
            auto ev = p.next();
            if (!ev || *ev == http::MultipartParser::Event::end) break;
            if (*ev == http::MultipartParser::Event::data) bytes += p.data().size();
            if (*ev == http::MultipartParser::Event::need_more) {
                p.feed(std::string_view(m.body).substr(at, 16 * 1024));
                at += 16 * 1024;
            }
        }
        benchmark::DoNotOptimize(bytes);
    }
    if (bytes != parts[0].body.size() + parts[1].body.size()) state.SkipWithError("lost bytes");
    state.SetBytesProcessed(std::int64_t(state.iterations() * m.body.size()));
}
BENCHMARK(multipart_parse)->Name("http::MultipartParser, 1 MiB upload in 16 KiB reads");

void form_parse(benchmark::State& state) {
    const std::string query =
        "q=coroutine+runtime+io_uring&page=3&sort=relevance&lang=en&filter=%5Bhttp%5D&x=%C3%A9";
    for (auto _ : state) {
        auto fields = http::parse_form(query);
        benchmark::DoNotOptimize(fields.data());
    }
    state.SetItemsProcessed(std::int64_t(state.iterations() * 6));
}
BENCHMARK(form_parse)->Name("http::parse_form, a 6-field query string");

BENCHMARK_MAIN();
