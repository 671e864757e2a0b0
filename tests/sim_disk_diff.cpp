// The simulated disk against the kernel: the same random sequences of file
// and directory operations run on a real directory (io_uring or epoll, as
// meson registers the file) and on a simulated host, and every result must
// be the same: the value, or the error. What the simulation does not model
// is left out of the comparison and said so in docs/simulation.md: modes
// (the simulation ignores the umask), a directory's size and link count,
// block counts, symbolic links (none on the simulated disk), and allocate
// modes other than 0 and FALLOC_FL_KEEP_SIZE.
//
// SIM_DISK_DIFF_SEQUENCES=N runs N sequences instead of 300;
// SIM_DISK_DIFF_DUMP=1 prints a failing sequence's steps with both results.
#include <fcntl.h>

#include <algorithm>
#include <array>
#include <cstdint>
#include <cstdio>  // RENAME_NOREPLACE, RENAME_EXCHANGE
#include <cstdlib>
#include <optional>
#include <random>
#include <string>
#include <vector>

#include <corio/fs/dir.hpp>
#include <corio/fs/file.hpp>

#include "fs_support.hpp"
#include "sim_support.hpp"

namespace sim_disk_diff_test {

using namespace corio;
using corio::test::TempDir;

namespace {

// A small name space, so that the operations meet each other's files.
constexpr std::array<const char*, 8> names = {"a", "b", "d", "d/a", "d/b", "e", "e/d", "d/e/f"};
constexpr int slots = 3;  // files held open at once

enum class Kind : std::uint8_t {
    write_file,
    read_file,
    mkdir,
    unlink,
    rmdir,
    rename,
    link,
    stat,
    list,
    open,
    write_at,
    read_at,
    truncate,
    allocate,
    size,
    fsync,
    close,
    mkdirs,
    remove_all,
    count_
};

struct Step {
    Kind kind;
    int p;              // a name
    int q;              // a second name
    int slot;           // an open file
    int flags;          // open flags, rename flags, allocate mode
    std::uint32_t off;  // offset, new size
    std::uint32_t len;  // length
    char fill;          // what a write writes
};

std::vector<Step> script(std::uint64_t seed, int n) {
    std::mt19937_64 rng(seed);
    auto pick = [&rng](std::size_t k) { return int(rng() % k); };
    static constexpr std::array<int, 14> open_flags = {
        O_RDONLY,
        O_WRONLY,
        O_RDWR,
        O_RDWR | O_CREAT,
        O_WRONLY | O_CREAT | O_TRUNC,
        O_RDWR | O_CREAT | O_EXCL,
        O_WRONLY | O_APPEND | O_CREAT,
        O_RDONLY | O_DIRECTORY,
        O_RDWR | O_TRUNC,
        O_RDONLY | O_CREAT,
        O_RDONLY | O_TRUNC,  // Linux truncates (POSIX leaves it open)
        O_WRONLY | O_DIRECTORY,
        O_RDWR | O_CREAT | O_EXCL | O_TRUNC,
        O_RDWR | O_APPEND,
    };
    static constexpr std::array<int, 3> rename_flags = {0, RENAME_NOREPLACE, RENAME_EXCHANGE};
    std::vector<Step> out;
    for (int i = 0; i < n; ++i) {
        Step s{};
        s.kind = Kind(pick(std::size_t(Kind::count_)));
        s.p = pick(names.size());
        s.q = pick(names.size());
        s.slot = pick(slots);
        if (s.kind == Kind::open) s.flags = open_flags[std::size_t(pick(open_flags.size()))];
        if (s.kind == Kind::rename) s.flags = rename_flags[std::size_t(pick(rename_flags.size()))];
        if (s.kind == Kind::allocate) s.flags = pick(2) == 0 ? 0 : FALLOC_FL_KEEP_SIZE;
        s.off = std::uint32_t(pick(40));
        s.len = std::uint32_t(pick(20));
        s.fill = char('a' + pick(26));
        out.push_back(s);
    }
    return out;
}

std::string err(std::error_code ec) {
    return "error " + ec.message();
}

std::string type_name(fs::FileType t) {
    return fs::to_string(t);
}

// Runs the steps under `root` ("" on the simulated host: its disk is "/"),
// one line of result per step.
Task<std::vector<std::string>> play(std::string root, std::vector<Step> steps) {
    std::vector<std::string> log;
    std::array<std::optional<fs::File>, slots> open{};
    auto path = [&root](int i) { return root + "/" + names[std::size_t(i)]; };
    for (const Step& s : steps) {
        const std::string p = path(s.p);
        const std::string q = path(s.q);
        std::optional<fs::File>& f = open[std::size_t(s.slot)];
        std::string line;
        switch (s.kind) {
            case Kind::write_file: {
                auto r = co_await fs::write_file(p, std::string(s.len, s.fill));
                line = r ? "ok" : err(r.error());
                break;
            }
            case Kind::read_file: {
                auto r = co_await fs::read_file(p);
                line = r ? "'" + *r + "'" : err(r.error());
                break;
            }
            case Kind::mkdir: {
                auto r = co_await fs::mkdir(p);
                line = r ? "ok" : err(r.error());
                break;
            }
            case Kind::unlink: {
                auto r = co_await fs::unlink(p);
                line = r ? "ok" : err(r.error());
                break;
            }
            case Kind::rmdir: {
                auto r = co_await fs::rmdir(p);
                line = r ? "ok" : err(r.error());
                break;
            }
            case Kind::rename: {
                // Built outside the co_await: g++ 12 frees an aggregate
                // temporary made inside one twice (README, Limits).
                OpAwaiter<fs::Renameat> op(
                    fs::Renameat{AT_FDCWD, p, AT_FDCWD, q, unsigned(s.flags)});
                auto r = co_await op;
                line = r ? "ok" : err(r.error());
                break;
            }
            case Kind::link: {
                auto r = co_await fs::hard_link(p, q);
                line = r ? "ok" : err(r.error());
                break;
            }
            case Kind::stat: {
                auto r = co_await fs::stat(p);
                if (!r) {
                    line = err(r.error());
                } else if (r->type == fs::FileType::directory) {
                    line = "directory";
                } else {
                    line = type_name(r->type) + " size " + std::to_string(r->size) + " nlink " +
                           std::to_string(r->nlink);
                }
                break;
            }
            case Kind::list: {
                auto r = co_await fs::list_dir(p);
                if (!r) {
                    line = err(r.error());
                    break;
                }
                std::vector<std::string> entries;
                for (const auto& e : *r) {
                    entries.push_back(e.name + ":" + type_name(e.type));
                }
                std::sort(entries.begin(), entries.end());
                for (const auto& e : entries) {
                    line += e + " ";
                }
                break;
            }
            case Kind::open: {
                f.reset();
                auto r = co_await fs::File::open(p, s.flags, 0644);
                if (r) f.emplace(std::move(*r));
                line = r ? "ok" : err(r.error());
                break;
            }
            case Kind::write_at: {
                if (!f) {
                    line = "-";  // no file open in this slot
                    break;
                }
                const std::string data(s.len, s.fill);
                auto r = co_await f->write_at(s.off, std::as_bytes(std::span(data)));
                line = r ? std::to_string(*r) : err(r.error());
                break;
            }
            case Kind::read_at: {
                if (!f) {
                    line = "-";  // no file open in this slot
                    break;
                }
                std::string buf(s.len, '\0');
                auto r = co_await f->read_at(s.off, std::as_writable_bytes(std::span(buf)));
                line = r ? "'" + buf.substr(0, *r) + "'" : err(r.error());
                break;
            }
            case Kind::truncate: {
                if (!f) {
                    line = "-";  // no file open in this slot
                    break;
                }
                auto r = co_await f->truncate(s.off);
                line = r ? "ok" : err(r.error());
                break;
            }
            case Kind::allocate: {
                if (!f) {
                    line = "-";  // no file open in this slot
                    break;
                }
                auto r = co_await f->allocate(s.off, s.len, s.flags);
                line = r ? "ok" : err(r.error());
                break;
            }
            case Kind::size: {
                if (!f) {
                    line = "-";  // no file open in this slot
                    break;
                }
                auto r = co_await f->stat();
                if (!r) {
                    line = err(r.error());
                } else {
                    line =
                        r->type == fs::FileType::directory ? "directory" : std::to_string(r->size);
                }
                break;
            }
            case Kind::fsync: {
                if (!f) {
                    line = "-";  // no file open in this slot
                    break;
                }
                auto r = co_await f->fsync();
                line = r ? "ok" : err(r.error());
                break;
            }
            case Kind::close: {
                if (!f) {
                    line = "-";  // no file open in this slot
                    break;
                }
                auto r = co_await f->close();
                f.reset();
                line = r ? "ok" : err(r.error());
                break;
            }
            case Kind::mkdirs: {
                auto r = co_await fs::create_directories(p);
                line = r ? "ok" : err(r.error());
                break;
            }
            case Kind::remove_all: {
                auto r = co_await fs::remove_all(p);
                line = r ? "ok" : err(r.error());
                break;
            }
            case Kind::count_:
                break;
        }
        log.push_back(line);
    }
    co_return log;
}

// Names a step for a failure message.
std::string describe(const Step& s) {
    static constexpr std::array<const char*, std::size_t(Kind::count_)> kinds = {
        "write_file", "read_file", "mkdir", "unlink",   "rmdir",     "rename",   "link",
        "stat",       "list",      "open",  "write_at", "read_at",   "truncate", "allocate",
        "size",       "fsync",     "close", "mkdirs",   "remove_all"};
    return std::string(kinds[std::size_t(s.kind)]) + " " + names[std::size_t(s.p)] + " " +
           names[std::size_t(s.q)] + " slot " + std::to_string(s.slot) + " flags " +
           std::to_string(s.flags) + " off " + std::to_string(s.off) + " len " +
           std::to_string(s.len);
}

}  // namespace

TEST_CASE("sim disk and kernel give the same results for random file operations",
          "[sim][disk][diff]") {
    const char* more = std::getenv("SIM_DISK_DIFF_SEQUENCES");
    const std::uint64_t sequences = more != nullptr ? std::strtoull(more, nullptr, 10) : 300;
    constexpr int steps = 120;
    int compared = 0;
    for (std::uint64_t seed = 1; seed <= sequences; ++seed) {
        const auto plan = script(seed, steps);
        std::vector<std::string> real;
        test::run([&](Loop&) -> Task<void> {
            TempDir dir;
            real = co_await play(dir.path, plan);
        });
        sim::World w({.seed = seed, .use_env = false});
        auto& h = w.add_host("disk");
        const std::vector<std::string> simulated = w.block_on(h, play("", plan));
        REQUIRE(real.size() == plan.size());
        REQUIRE(simulated.size() == plan.size());
        for (std::size_t i = 0; i < plan.size(); ++i) {
            if (real[i] != simulated[i]) {
                INFO("seed " << seed << ", step " << i << ": " << describe(plan[i]));
                if (std::getenv("SIM_DISK_DIFF_DUMP") != nullptr) {
                    for (std::size_t k = 0; k <= i; ++k) {
                        std::fprintf(stderr, "%zu %s => %s | %s\n", k, describe(plan[k]).c_str(),
                                     real[k].c_str(), simulated[k].c_str());
                    }
                }
                CHECK(real[i] == simulated[i]);
                break;
            }
        }
        compared += int(
            std::count_if(real.begin(), real.end(), [](const std::string& l) { return l != "-"; }));
    }
    CHECK(std::uint64_t(compared) > sequences * steps / 2);  // most steps had a file to work on
}

}  // namespace sim_disk_diff_test
