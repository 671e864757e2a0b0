#pragma once
// Command-line handling shared by the examples, declared once per option: the parser and the
// --help text come from the same declarations, so they cannot disagree, and a default shown
// in --help is the variable's value before parsing. `--flag value` and `--flag=value`; the
// contract of DESIGN.md ("Commands"): a bad argument gets one line on stderr and exit
// status 2, --help prints the usage and exits 0.
//
//   examples::Cli cli(argc, argv, "URL [options]", "Fetches URL.\n");
//   cli.positional("URL", url);
//   cli.option("conns N", "connections", conns, 1, 1000);  // "(default 16)" added
//   cli.flag("quiet", "no progress line", quiet);
//   cli.backend(backend);
//   cli.parse();

#include <algorithm>
#include <charconv>
#include <chrono>
#include <concepts>
#include <cstdio>
#include <cstdlib>
#include <functional>
#include <string>
#include <string_view>
#include <type_traits>
#include <vector>

#include <corio/runtime/backend.hpp>

namespace corio::examples {

class Cli {
public:
    /// `synopsis` follows "usage: PROG "; `about` is printed after the options.
    Cli(int argc, char** argv, std::string synopsis, std::string about = {})
        : synopsis_(std::move(synopsis)), about_(std::move(about)) {
        prog_ = argc > 0 ? argv[0] : "example";
        if (auto slash = prog_.rfind('/'); slash != std::string::npos) prog_.erase(0, slash + 1);
        for (int i = 1; i < argc; ++i) {
            args_.emplace_back(argv[i]);
        }
    }
    Cli(const Cli&) = delete;  // the options' setters point at this Cli
    Cli& operator=(const Cli&) = delete;

    /// `--NAME VALUE` through `set`, for values no other overload takes; `spec` is
    /// "NAME METAVAR".
    Cli& option(std::string_view spec, std::string help,
                std::function<void(const std::string&)> set) {
        const std::size_t space = spec.find(' ');
        options_.push_back({name_of(spec),
                            space == spec.npos ? "" : std::string(spec.substr(space + 1)),
                            std::move(help), std::move(set), true});
        return *this;
    }

    /// `--NAME N`: an integer from `min` to `max` into `target`.
    template <std::integral T>
    Cli& option(std::string_view spec, std::string help, T& target, std::type_identity_t<T> min,
                std::type_identity_t<T> max) {
        const std::string name = name_of(spec);
        return option(spec, with_default(std::move(help), std::to_string(target)),
                      [this, name, &target, min, max](const std::string& v) {
                          target = number<T>(name, v, min, max);
                      });
    }

    /// `--NAME T`: milliseconds, from `min` to `max`, into `target` (any std::chrono duration).
    template <class Rep, class Period>
    Cli& option(std::string_view spec, std::string help, std::chrono::duration<Rep, Period>& target,
                std::uint32_t min, std::uint32_t max) {
        const std::string name = name_of(spec);
        const auto shown = std::chrono::duration_cast<std::chrono::milliseconds>(target).count();
        return option(spec, with_default(std::move(help), std::to_string(shown)),
                      [this, name, &target, min, max](const std::string& v) {
                          target = std::chrono::milliseconds(number(name, v, min, max));
                      });
    }

    /// `--NAME SECS`: seconds, fractions allowed, above 0 and up to a day, into `target` (a
    /// double or a std::chrono duration).
    template <class T>
    Cli& seconds(std::string_view spec, std::string help, T& target) {
        const std::string name = name_of(spec);
        return option(spec, std::move(help), [this, name, &target](const std::string& v) {
            char* end = nullptr;
            const double secs = std::strtod(v.c_str(), &end);
            if (end == v.c_str() || *end != '\0' || !(secs > 0) || secs > 86400) {
                fail("--" + name + " wants seconds (> 0), not '" + v + "'");
            }
            if constexpr (std::is_floating_point_v<T>) {
                target = secs;
            } else {
                target = std::chrono::duration_cast<T>(std::chrono::duration<double>(secs));
            }
        });
    }

    /// `--NAME TEXT` into `target`.
    Cli& option(std::string_view spec, std::string help, std::string& target) {
        if (!target.empty()) help = with_default(std::move(help), target);
        return option(spec, std::move(help), [&target](const std::string& v) { target = v; });
    }

    /// `--NAME` without a value: sets `target` to `to`.
    Cli& flag(std::string_view name, std::string help, bool& target, bool to = true) {
        options_.push_back({std::string(name), "", std::move(help),
                            [&target, to](const std::string&) { target = to; }, false});
        return *this;
    }

    /// The examples' `--backend auto|io_uring|epoll`.
    Cli& backend(BackendChoice& target) {
        return option("backend B",
                      "auto, io_uring or epoll (default auto; CORIO_BACKEND overrides auto)",
                      [this, &target](const std::string& v) {
                          auto b = parse_backend(v);
                          if (!b) fail("--backend wants auto, io_uring or epoll, not '" + v + "'");
                          target = *b;
                      });
    }

    /// A required argument that is not an option, in the order declared.
    Cli& positional(std::string name, std::string& target) {
        positionals_.push_back({std::move(name), &target});
        return *this;
    }

    /// Applies the arguments to the declared targets; exits on --help and on a bad argument.
    /// After `--`, every argument is a positional one (a URL or path that starts with "--").
    void parse() {
        std::size_t next_positional = 0;
        bool options_ended = false;
        for (std::size_t i = 0; i < args_.size(); ++i) {
            const std::string& a = args_[i];
            if (!options_ended && (a == "--help" || a == "-h")) {
                std::fputs(usage().c_str(), stdout);
                std::exit(0);
            }
            if (!options_ended && a == "--") {
                options_ended = true;
                continue;
            }
            if (options_ended || a.rfind("--", 0) != 0) {
                if (next_positional == positionals_.size()) fail("unexpected argument '" + a + "'");
                *positionals_[next_positional++].target = a;
                continue;
            }
            const std::size_t eq = a.find('=');
            const std::string name = a.substr(2, eq == a.npos ? a.npos : eq - 2);
            const Option* o = find(name);
            if (o == nullptr) fail("unknown option '--" + name + "'");
            if (!o->takes_value) {
                if (eq != a.npos) fail("--" + name + " takes no value");
                o->set({});
            } else if (eq != a.npos) {
                o->set(a.substr(eq + 1));
            } else {
                if (i + 1 >= args_.size()) fail("--" + name + " needs a value");
                o->set(args_[++i]);
            }
        }
        if (next_positional < positionals_.size()) {
            fail(positionals_[next_positional].name + " is required");
        }
    }

    /// Prints "PROG: MESSAGE (try --help)" on stderr and exits 2.
    [[noreturn]] void fail(const std::string& message) const {
        std::fprintf(stderr, "%s: %s (try --help)\n", prog_.c_str(), message.c_str());
        std::exit(2);
    }

    /// `text` as a T from `min` to `max`, or fail() naming --`flag`.
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

    /// The --help text.
    std::string usage() const {
        std::string out = "usage: " + prog_ + " " + synopsis_ + "\n";
        auto left_of = [](const Option& o) {
            return "  --" + o.name + (o.metavar.empty() ? "" : " " + o.metavar);
        };
        std::size_t width = 0;  // of the widest left column
        for (const Option& o : options_) {
            width = std::max(width, left_of(o).size());
        }
        auto line = [&out, width](std::string left, std::string_view help) {
            left.resize(width + 2, ' ');
            for (std::size_t nl; (nl = help.find('\n')) != help.npos; help.remove_prefix(nl + 1)) {
                out += left;
                out.append(help.substr(0, nl)) += "\n";
                left.assign(left.size(), ' ');
            }
            out += left;
            out.append(help) += "\n";
        };
        for (const Option& o : options_) {
            line(left_of(o), o.help);
        }
        line("  --help", "this text");
        return out + about_;
    }

private:
    struct Option {
        std::string name;
        std::string metavar;
        std::string help;
        std::function<void(const std::string&)> set;
        bool takes_value;
    };
    struct Positional {
        std::string name;
        std::string* target;
    };

    static std::string name_of(std::string_view spec) {
        return std::string(spec.substr(0, spec.find(' ')));
    }

    static std::string with_default(std::string help, const std::string& value) {
        if (help.find("(default") == help.npos) help += " (default " + value + ")";
        return help;
    }

    const Option* find(const std::string& name) const {
        for (const Option& o : options_) {
            if (o.name == name) return &o;
        }
        return nullptr;
    }

    std::string synopsis_;
    std::string about_;
    std::string prog_;
    std::vector<std::string> args_;
    std::vector<Option> options_;
    std::vector<Positional> positionals_;
};

}  // namespace corio::examples
