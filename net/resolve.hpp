#pragma once
// Name resolution: getaddrinfo(3) on the loop's blocking pool, so the loop
// thread never waits for DNS.

#include <netdb.h>
#include <sys/socket.h>

#include <cstdint>
#include <string>
#include <system_error>
#include <vector>

#include <corio/net/address.hpp>
#include <corio/runtime/op.hpp>
#include <corio/runtime/task.hpp>

namespace corio::net {

/// The category of getaddrinfo's EAI_* codes (messages from gai_strerror).
const std::error_category& resolve_category() noexcept;

/// What resolve() asks for.
struct ResolveOptions {
    int family = AF_UNSPEC;      ///< AF_INET, AF_INET6 or both
    int socktype = SOCK_STREAM;  ///< SOCK_STREAM (TCP) or SOCK_DGRAM (UDP)
    bool numeric_only = false;   ///< AI_NUMERICHOST: never ask DNS
};

/// Resolves `host` (a name or a numeric address) with `port` to addresses,
/// in getaddrinfo's order, without duplicates. Runs on the blocking pool on
/// both backends; completes when getaddrinfo returns. Errors are in
/// resolve_category() (EAI_NONAME: "Name or service not known", ...) or
/// system_category() for EAI_SYSTEM; describe("resolve", host, ec) names the
/// host. Cancellation: operation_canceled if the call had not started (a
/// running getaddrinfo cannot be interrupted; its answer is dropped).
Task<Result<std::vector<Address>>> resolve(std::string host, std::uint16_t port,
                                           ResolveOptions opts = {});

/// getaddrinfo(3) as an operation (pool only). `out` is freed by finish().
struct GetAddrInfo {
    const char* host;         ///< the name; lives until completion
    const char* service;      ///< the port as text; lives until completion
    addrinfo hints{};         ///< getaddrinfo's hints
    addrinfo* out = nullptr;  ///< getaddrinfo's answer, until finish() frees it
    std::vector<Address> sim_out;  ///< the simulation's answer (see sim())
    /// Operation protocol (see corio::Operation): never an io_uring request
    /// (`uring = false`): getaddrinfo(3) on the blocking pool on both
    /// backends; finish gives the addresses, or an error of
    /// resolve_category() (EAI_*) or the errno for EAI_SYSTEM. On a simulated
    /// host (`sim`): numeric addresses, "localhost", and the world's host
    /// names (sim::World::add_host's, any case), IPv4 only.
    ///@{
    static constexpr OpKind kind = OpKind::other;
    static constexpr Interest interest = Interest::blocking;
    static constexpr bool uring = false;
    void prep(io_uring_sqe*) const noexcept {}
    int attempt() noexcept;
    int sim(corio::detail::SimIo& io);
    Result<std::vector<Address>> finish(int res);
    ///@}
};

}  // namespace corio::net
