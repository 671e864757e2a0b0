#pragma once
// The inside of a tls::Context, shared by context.cpp and session.cpp (not
// installed: it includes OpenSSL's headers).

#include <openssl/ssl.h>

#include <cstddef>
#include <list>
#include <map>
#include <mutex>
#include <string>
#include <vector>

#include <corio/tls/context.hpp>

namespace corio::tls::detail {

/// Appends ALPN protocol names to `wire` in ALPN's wire form (a length byte, then the name);
/// false for an empty name or one longer than 255 bytes.
template <class Names>
bool append_alpn_wire(std::vector<unsigned char>& wire, const Names& names) {
    for (const auto& name : names) {
        if (name.empty() || name.size() > 255) return false;
        wire.push_back(static_cast<unsigned char>(name.size()));
        wire.insert(wire.end(), name.begin(), name.end());
    }
    return true;
}

struct ContextImpl {
    SSL_CTX* ctx = nullptr;
    ContextOptions opts;
    std::vector<unsigned char> alpn_wire;  // length-prefixed names, ALPN's wire form

    ContextImpl() = default;
    ContextImpl(const ContextImpl&) = delete;
    ContextImpl& operator=(const ContextImpl&) = delete;
    ~ContextImpl();

    /// Keeps `s` (one reference, taken over) as the session for `key`,
    /// replacing the one there; forgets the oldest beyond the cache size.
    void remember(const std::string& key, SSL_SESSION* s);
    /// The session for `key` with a reference for the caller, or null.
    SSL_SESSION* recall(const std::string& key);
    std::size_t remembered() const;

private:
    // Loops on several threads share a context: the client cache is locked
    // (once per new connection and per ticket, never per record).
    mutable std::mutex mu_;
    std::map<std::string, SSL_SESSION*, std::less<>> sessions_;
    std::list<std::string> order_;  // oldest first
};

/// The keylog callback of a context with kernel TLS (session.cpp): keeps the
/// stream's sending application traffic secret in its Session.
void on_keylog(const SSL* ssl, const char* line);
/// The message callback of a context with kernel TLS (session.cpp): counts
/// the records a stream's OpenSSL makes (the argument is the Session).
void on_message(int write_p, int version, int content_type, const void* buf, std::size_t len,
                SSL* ssl, void* arg);

}  // namespace corio::tls::detail
