#pragma once
// Command-line handling shared by the examples: `--flag value` or
// `--flag=value`, `--help`, and the contract of DESIGN.md ("Commands"): a bad
// flag gets one line on stderr and exit status 2.

#include <charconv>
#include <cstdio>
#include <cstdlib>
#include <functional>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include <corio/runtime/backend.hpp>

namespace corio::examples {

class Cli {
public:
    Cli(int argc, char** argv, std::string usage) : usage_(std::move(usage)) {
        prog_ = argc > 0 ? argv[0] : "example";
        if (auto slash = prog_.rfind('/'); slash != std::string::npos) prog_.erase(0, slash + 1);
        for (int i = 1; i < argc; ++i) args_.emplace_back(argv[i]);
    }

    /// Walks the arguments: `on_flag(name, value_getter)` returns false for an
    /// unknown flag; positional arguments go to `on_positional`.
    template <class OnFlag, class OnPositional>
    void parse(OnFlag on_flag, OnPositional on_positional) {
        for (std::size_t i = 0; i < args_.size(); ++i) {
            std::string a = args_[i];
            if (a == "--help" || a == "-h") {
                std::fputs(usage_.c_str(), stdout);
                std::exit(0);
            }
            if (a.rfind("--", 0) != 0 || a == "--") {
                if (!on_positional(a)) fail("unexpected argument '" + a + "'");
                continue;
            }
            std::optional<std::string> inline_value;
            if (auto eq = a.find('='); eq != std::string::npos) {
                inline_value = a.substr(eq + 1);
                a.erase(eq);
            }
            auto value = [&]() -> std::string {
                if (inline_value) return *inline_value;
                if (i + 1 >= args_.size()) fail(a + " needs a value");
                return args_[++i];
            };
            if (!on_flag(a.substr(2), value)) fail("unknown option '" + a + "'");
        }
    }

    /// Prints "PROG: MESSAGE (try --help)" on stderr and exits 2.
    [[noreturn]] void fail(const std::string& message) const {
        std::fprintf(stderr, "%s: %s (try --help)\n", prog_.c_str(), message.c_str());
        std::exit(2);
    }

    template <class T>
    T number(const std::string& flag, const std::string& text, T min, T max) const {
        T v{};
        auto [p, ec] = std::from_chars(text.data(), text.data() + text.size(), v);
        if (ec != std::errc() || p != text.data() + text.size() || v < min || v > max) {
            fail("--" + flag + " wants a number from " + std::to_string(min) + " to " +
                 std::to_string(max) + ", not '" + text + "'");
        }
        return v;
    }

    BackendChoice backend(const std::string& text) const {
        auto b = parse_backend(text);
        if (!b) fail("--backend wants auto, io_uring or epoll, not '" + text + "'");
        return *b;
    }

    const std::string& prog() const noexcept { return prog_; }

private:
    std::string usage_;
    std::string prog_;
    std::vector<std::string> args_;
};

}  // namespace corio::examples
