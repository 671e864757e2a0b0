#include <corio/runtime/backend.hpp>

#include <liburing.h>
#include <sys/utsname.h>

#include <atomic>
#include <cstdio>
#include <cstdlib>
#include <cstring>

#include <fmt/format.h>

#include <corio/runtime/detail/op_state.hpp>
#include <corio/runtime/log.hpp>

namespace corio {

std::string_view to_string(BackendKind k) noexcept {
    switch (k) {
        case BackendKind::io_uring:
            return "io_uring";
        case BackendKind::epoll:
            return "epoll";
        case BackendKind::sim:
            return "sim";
    }
    return "?";
}

std::string_view to_string(BackendChoice c) noexcept {
    switch (c) {
        case BackendChoice::automatic:
            return "auto";
        case BackendChoice::io_uring:
            return "io_uring";
        case BackendChoice::epoll:
            return "epoll";
    }
    return "?";
}

std::optional<BackendChoice> parse_backend(std::string_view s) noexcept {
    if (s == "auto") return BackendChoice::automatic;
    if (s == "io_uring" || s == "uring" || s == "io-uring") return BackendChoice::io_uring;
    if (s == "epoll") return BackendChoice::epoll;
    return std::nullopt;
}

std::optional<BackendChoice> backend_from_env() noexcept {
    const char* v = std::getenv("CORIO_BACKEND");
    if (v == nullptr || *v == '\0') return std::nullopt;
    auto c = parse_backend(v);
    if (!c) {
        // Every loop thread reads the environment: warn once, race-free.
        static std::atomic<bool> warned{false};
        if (!warned.exchange(true, std::memory_order_relaxed)) {
            log_warn("CORIO_BACKEND={}: expected auto, io_uring or epoll; ignored", v);
        }
    }
    return c;
}

const char* to_string(OpKind k) noexcept {
    static const char* const names[] = {
        "nop",    "read",    "write",   "recv",  "send",  "accept",   "connect",
        "poll",   "close",   "open",    "fsync", "statx", "shutdown", "socket",
        "splice", "sendmsg", "recvmsg", "dir",   "wake",  "msg_ring", "other"};
    auto i = static_cast<std::size_t>(k);
    return i < std::size(names) ? names[i] : "?";
}

std::string BackendReport::describe() const {
    std::string kernel_release = kernel;
    if (kernel_release.empty()) {
        utsname u{};
        if (::uname(&u) == 0) kernel_release = u.release;
    }
    std::string s = fmt::format("backend: {}\nrequested: {}\nreason: {}\nkernel: {}\n",
                                to_string(kind), to_string(requested), reason, kernel_release);
    if (!uring_error.empty()) s += fmt::format("io_uring error: {}\n", uring_error);
    auto yn = [](bool b) { return b ? "yes" : "no"; };
    if (kind == BackendKind::io_uring) {
        unsigned f = caps.setup_flags;
        std::string flags;
        auto add = [&](unsigned bit, const char* name) {
            if (f & bit) {
                if (!flags.empty()) flags += ',';
                flags += name;
            }
        };
        add(IORING_SETUP_SINGLE_ISSUER, "SINGLE_ISSUER");
        add(IORING_SETUP_DEFER_TASKRUN, "DEFER_TASKRUN");
        add(IORING_SETUP_COOP_TASKRUN, "COOP_TASKRUN");
        add(IORING_SETUP_SUBMIT_ALL, "SUBMIT_ALL");
        add(IORING_SETUP_SQPOLL, "SQPOLL");
        add(IORING_SETUP_CQSIZE, "CQSIZE");
        s += fmt::format("setup flags: {}\n", flags.empty() ? "none" : flags);
        s += fmt::format("registered ring fd: {}\n", yn(caps.registered_ring_fd));
        s += fmt::format("wait with timeout (EXT_ARG): {}\n", yn(caps.ext_arg));
        s += fmt::format("no dropped completions (NODROP): {}\n",
                         yn(caps.features & IORING_FEAT_NODROP));
        s += fmt::format("multishot accept: {}\n", yn(caps.multishot_accept));
        s += fmt::format("multishot recv: {}\n", yn(caps.multishot_recv));
        s += fmt::format("multishot recvmsg: {}\n", yn(caps.multishot_recvmsg));
        s += fmt::format("multishot poll: {}\n", yn(caps.multishot_poll));
        s += fmt::format("registered descriptors: {}\n",
                         caps.fixed_files > 0 ? fmt::format("{} slots", caps.fixed_files) : "no");
        s += fmt::format("zero-copy send: {}\n", yn(caps.send_zc));
        s += fmt::format("cancel by descriptor: {}\n", yn(caps.cancel_fd));
        s += fmt::format("provided buffer rings: {}\n", yn(caps.buf_ring));
        s += fmt::format("MSG_RING: {}\n", yn(caps.msg_ring));
        s += fmt::format("linked timeouts: {}\n", yn(caps.link_timeout));
        s += fmt::format("opcodes supported: {}\n", caps.ops.count());
    } else if (kind == BackendKind::epoll) {
        s += fmt::format("epoll_pwait2 (ns timeouts): {}\n", yn(caps.epoll_pwait2));
    }
    s += kernel_tls_ulp()
             ? "ktls: available (tls ULP)\n"
             : "ktls: unavailable (no tls ULP in /proc/sys/net/ipv4/tcp_available_ulp)\n";
    return s;
}

bool kernel_tls_ulp() noexcept {
    // Read once: the list changes only when the tls module is loaded, and a
    // loop that started without it keeps its answer.
    static const bool yes = [] {
        std::FILE* f = std::fopen("/proc/sys/net/ipv4/tcp_available_ulp", "re");
        if (f == nullptr) return false;
        char word[64];
        bool found = false;
        while (!found && std::fscanf(f, "%63s", word) == 1) {
            found = std::strcmp(word, "tls") == 0;
        }
        std::fclose(f);
        return found;
    }();
    return yes;
}

}  // namespace corio
