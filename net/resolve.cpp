#include <corio/net/resolve.hpp>

#include <algorithm>
#include <cerrno>
#include <charconv>

namespace corio::net {

namespace {

// getaddrinfo's codes are small negative numbers, like -errno: move them out
// of the way so one int carries either.
constexpr int gai_base = 100000;

class ResolveCategory : public std::error_category {
public:
    const char* name() const noexcept override { return "resolve"; }
    std::string message(int code) const override { return ::gai_strerror(code); }
};

}  // namespace

const std::error_category& resolve_category() noexcept {
    static const ResolveCategory cat;
    return cat;
}

int GetAddrInfo::attempt() noexcept {
    int r = ::getaddrinfo(host, service, &hints, &out);
    if (r == 0) return 0;
    out = nullptr;
    if (r == EAI_SYSTEM) return errno != 0 ? -errno : -EIO;
    return r - gai_base;
}

int GetAddrInfo::sim(corio::detail::SimIo& io) {
    sim_out.clear();
    std::uint16_t port = 0;
    const std::string_view svc(service);
    const auto [end, ec] = std::from_chars(svc.data(), svc.data() + svc.size(), port);
    if (ec != std::errc{} || end != svc.data() + svc.size()) return EAI_SERVICE - gai_base;
    std::string ip = host;
    if (!Address::from_ip(ip, port)) {
        if ((hints.ai_flags & AI_NUMERICHOST) != 0 || io.resolve_host(host, ip) != 0) {
            return EAI_NONAME - gai_base;
        }
    }
    auto a = Address::from_ip(ip, port);
    if (!a) return EAI_NONAME - gai_base;
    if (hints.ai_family != AF_UNSPEC && hints.ai_family != a->family()) {
        return EAI_ADDRFAMILY - gai_base;
    }
    sim_out.push_back(*a);
    return 0;
}

Result<std::vector<Address>> GetAddrInfo::finish(int res) {
    if (res == 0 && out == nullptr && !sim_out.empty()) return std::move(sim_out);
    struct Free {
        addrinfo*& p;
        ~Free() {
            if (p != nullptr) ::freeaddrinfo(p);
            p = nullptr;
        }
    } free_out{out};
    if (res <= -gai_base) return std::error_code(res + gai_base, resolve_category());
    if (res < 0) return sys_error(-res);
    std::vector<Address> v;
    for (addrinfo* a = out; a != nullptr; a = a->ai_next) {
        Address addr(a->ai_addr, a->ai_addrlen);
        if (std::find(v.begin(), v.end(), addr) == v.end()) v.push_back(addr);
    }
    if (v.empty()) return std::error_code(EAI_NONAME, resolve_category());
    return v;
}

Task<Result<std::vector<Address>>> resolve(std::string host, std::uint16_t port,
                                           ResolveOptions opts) {
    std::string service = std::to_string(port);
    GetAddrInfo op{host.c_str(), service.c_str(), {}, nullptr, {}};
    op.hints.ai_family = opts.family;
    op.hints.ai_socktype = opts.socktype;
    op.hints.ai_flags = AI_NUMERICSERV | (opts.numeric_only ? AI_NUMERICHOST : 0);
    co_return co_await OpAwaiter<GetAddrInfo>(op);
}

}  // namespace corio::net
