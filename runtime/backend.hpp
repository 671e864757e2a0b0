#pragma once
// Backend choice, probed capabilities and the backend report.

#include <bitset>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <system_error>

namespace corio {

/// The engine a Loop runs on. `sim`: a host of a sim::World (virtual time,
/// simulated network); such loops are made and driven by the world only.
enum class BackendKind : std::uint8_t { io_uring, epoll, sim };

/// What a program asks for: `automatic` takes io_uring when it starts, else epoll.
enum class BackendChoice : std::uint8_t { automatic, io_uring, epoll };

/// "io_uring" or "epoll".
std::string_view to_string(BackendKind k) noexcept;
/// "auto", "io_uring" or "epoll" (the spelling parse_backend accepts).
std::string_view to_string(BackendChoice c) noexcept;
/// Parses "auto", "io_uring" (or "uring"), "epoll"; nullopt otherwise.
std::optional<BackendChoice> parse_backend(std::string_view s) noexcept;

/// What the kernel offered, probed once when a loop starts.
struct Caps {
    unsigned setup_flags = 0;         ///< IORING_SETUP_* the ring was created with
    unsigned features = 0;            ///< IORING_FEAT_* the kernel reported
    std::bitset<64> ops;              ///< supported IORING_OP_* opcodes
    bool registered_ring_fd = false;  ///< the ring's own descriptor is registered (5.18+)
    bool ext_arg = false;             ///< wait with a timeout without a timeout SQE
    bool buf_ring = false;            ///< provided buffer rings (5.19+)
    bool multishot_accept = false;    ///< 5.19+
    bool multishot_recv = false;      ///< 6.0+
    bool msg_ring = false;            ///< IORING_OP_MSG_RING (5.18+)
    bool link_timeout = false;        ///< IORING_OP_LINK_TIMEOUT: `.timeout(d)` inside the kernel
    bool cancel_fd = false;           ///< ASYNC_CANCEL by descriptor / of everything (5.19+)
    bool send_zc = false;             ///< IORING_OP_SEND_ZC (6.0+)
    bool multishot_recvmsg = false;   ///< 6.0+
    bool multishot_poll = false;      ///< 5.13+
    unsigned fixed_files = 0;         ///< registered descriptor table size (0: none)
    bool epoll_pwait2 = false;        ///< nanosecond epoll timeouts (5.11+)

    /// True when the kernel supports the IORING_OP_* `opcode`.
    bool has_op(unsigned opcode) const noexcept { return opcode < ops.size() && ops[opcode]; }
};

/// Which backend a loop uses and why; `describe()` prints it for people.
struct BackendReport {
    BackendKind kind = BackendKind::epoll;               ///< the backend the loop runs on
    BackendChoice requested = BackendChoice::automatic;  ///< what was asked for
    std::string reason;       ///< why this backend ("requested", "io_uring_setup: ...")
    std::string uring_error;  ///< why io_uring could not start, if it could not
    std::string kernel;       ///< the running kernel's release
    Caps caps;                ///< what the kernel offered (io_uring fields empty on epoll)

    /// Several lines: backend, reason, kernel, features found.
    std::string describe() const;
};

/// Thrown when the requested backend cannot start; what() names the reason,
/// e.g. "io_uring backend unavailable: io_uring_setup: Operation not permitted".
class BackendError : public std::system_error {
public:
    /// An error `ec` (Errc::backend_unavailable or the kernel's) with the message `what`.
    BackendError(std::error_code ec, const std::string& what) : std::system_error(ec, what) {}
};

/// True when the running kernel offers the `tls` TCP upper layer protocol
/// (kernel TLS: /proc/sys/net/ipv4/tcp_available_ulp lists "tls"). Probed
/// once; BackendReport::describe() prints it as the `ktls:` line.
bool kernel_tls_ulp() noexcept;

/// The backend choice in CORIO_BACKEND, if set and valid (a bad value is
/// reported once at warn level and ignored).
std::optional<BackendChoice> backend_from_env() noexcept;

}  // namespace corio
