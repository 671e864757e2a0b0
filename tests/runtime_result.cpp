// Result<T>: values and errors; dereferencing an error is a clear abort.
#include <csignal>
#include <set>
#include <string>
#include <system_error>

#include <corio/runtime/result.hpp>

#include "death_support.hpp"
#include "support.hpp"

namespace runtime_result_test {

using namespace corio;

TEST_CASE("a Result holds a value or an error", "[result]") {
    Result<std::string> ok(std::string("hi"));
    REQUIRE(ok);
    CHECK(*ok == "hi");
    CHECK(ok->size() == 2);
    CHECK(!ok.error());
    Result<std::string> bad(std::errc::connection_refused);
    REQUIRE(!bad);
    CHECK(bad.error() == std::errc::connection_refused);
    CHECK(bad.value_or("x") == "x");
    CHECK_THROWS_AS(bad.value("connect"), std::system_error);
}

TEST_CASE("every corio::Errc has a message of its own in the corio category", "[result]") {
    std::set<std::string> messages;
    for (Errc e : {Errc::eof, Errc::channel_closed, Errc::backend_unavailable, Errc::limit_exceeded,
                   Errc::circuit_open, Errc::rejected, Errc::lagged}) {
        const std::error_code ec = make_error_code(e);
        CHECK(std::string(ec.category().name()) == "corio");
        CHECK(ec == e);
        CHECK(ec != std::errc::operation_canceled);
        INFO(ec.message());
        CHECK(ec.message() != "Unknown corio error");
        messages.insert(ec.message());
    }
    CHECK(messages.size() == 7);
    CHECK(std::error_code(99, corio_category()).message() == "Unknown corio error");
}

TEST_CASE("operator* on an error terminates with a message naming the error", "[result]") {
    auto end = test::run_in_child([] {
        Result<int> r(std::errc::connection_reset);
        volatile int v = *r;
        (void)v;
    });
    INFO(end.err);
    CHECK(end.killed_by(SIGABRT));
    CHECK(end.err.find("Result::operator*") != std::string::npos);
    CHECK(end.err.find("Connection reset by peer") != std::string::npos);
}

TEST_CASE("operator-> on an error terminates with a message naming the error", "[result]") {
    auto end = test::run_in_child([] {
        Result<std::string> r(std::errc::timed_out);
        volatile std::size_t n = r->size();
        (void)n;
    });
    INFO(end.err);
    CHECK(end.killed_by(SIGABRT));
    CHECK(end.err.find("Result::operator->") != std::string::npos);
    CHECK(end.err.find("timed out") != std::string::npos);
}

}  // namespace runtime_result_test
