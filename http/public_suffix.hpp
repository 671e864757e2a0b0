#pragma once
// The Public Suffix List (https://publicsuffix.org): which domains are public
// suffixes, under which anyone may register a name ("com", "co.uk",
// "github.io"), and so where one site ends and another begins. A CookieJar
// uses it to refuse cookies for a whole suffix (Domain=co.uk):
//
//   auto psl = http::PublicSuffixList::load(http::PublicSuffixList::system_path).value("psl");
//   auto jar = std::make_shared<http::CookieJar>(http::CookieJarOptions{
//       .public_suffix = psl.checker(),   // Domain=co.uk refused
//       .site = psl.site_of()});          // limits per site, not per subdomain
//
// corio ships no copy of the list, which changes every week: load the one the
// system has (Debian's `publicsuffix` package) or one of your own.
#include <cstddef>
#include <functional>
#include <memory>
#include <string>
#include <string_view>
#include <unordered_set>

#include <corio/runtime/result.hpp>

namespace corio::http {

/// Appends the ASCII form of one domain label (IDNA's "xn--" + Punycode, RFC
/// 3492) to `out`: an ASCII label goes as it is; a label of UTF-8 code points
/// goes as "xn--" and their Punycode encoding. Returns false, appending
/// nothing, for a label that is not valid UTF-8 or too long to encode. The
/// label is not mapped or normalized first (IDNA's UTS 46 processing): give
/// it in lower case, in NFC, as the list writes its rules.
bool append_idna_label(std::string& out, std::string_view label);

/// A Public Suffix List, parsed: rules ("com"), wildcards ("*.ck") and
/// exceptions ("!www.ck"), from its ICANN and private sections alike.
/// Lookups take host names as Url has them: ASCII, any case, no trailing dot.
/// Copies share the rules (immutable once parsed); a list may be used from
/// any thread.
class PublicSuffixList {
public:
    /// Where Debian's (and most distributions') `publicsuffix` package puts
    /// the list.
    static constexpr const char* system_path = "/usr/share/publicsuffix/public_suffix_list.dat";

    /// An empty list: every domain's public suffix is its last label (the
    /// list's implicit "*" rule).
    PublicSuffixList();

    /// Parses the list's format: a rule per line, up to the first whitespace;
    /// "//" starts a comment line; blank lines are skipped. Labels outside
    /// ASCII are taken in their "xn--" form (append_idna_label()), so the
    /// rules match hosts as URLs carry them. A line that is not a rule (an
    /// empty label, a '*' anywhere but a whole leftmost label, a label that
    /// cannot be encoded) is skipped and counted in skipped().
    static PublicSuffixList parse(std::string_view text);
    /// Reads `path` and parses it. Blocking reads (use it at startup, as
    /// tls::Context::make reads its files). Errors: the file's (it cannot be
    /// opened or read), std::errc::bad_message when it holds no rule (empty,
    /// or not a list: it would protect nothing).
    static Result<PublicSuffixList> load(const std::string& path);

    /// The public suffix of `domain`, a slice of it, by the list's algorithm:
    /// an exception rule wins, else the matching rule with the most labels,
    /// else the last label. Empty when `domain` is not a name: empty, an empty
    /// label ("a..b", ".a", "a."), or an address (an IPv6 literal, or a last
    /// label of digits: "192.0.2.1").
    std::string_view public_suffix(std::string_view domain) const;
    /// True when `domain` is a public suffix itself ("co.uk", "com", "ck").
    bool is_public_suffix(std::string_view domain) const;
    /// The registrable domain (the public suffix and the label before it:
    /// "example.co.uk" for "www.example.co.uk"), a slice of `domain`; empty
    /// when `domain` is a public suffix itself or not a name.
    std::string_view registrable_domain(std::string_view domain) const;

    /// Rules held (exceptions and wildcards included).
    std::size_t rules() const noexcept;
    /// Lines parse() skipped as not rules.
    std::size_t skipped() const noexcept;

    /// is_public_suffix() as a CookieJarOptions::public_suffix hook (it holds
    /// a copy of this list).
    std::function<bool(std::string_view domain)> checker() const;
    /// registrable_domain() as a CookieJarOptions::site hook (it holds a copy
    /// of this list).
    std::function<std::string(std::string_view domain)> site_of() const;

private:
    struct Hash {
        using is_transparent = void;
        std::size_t operator()(std::string_view s) const noexcept {
            return std::hash<std::string_view>()(s);
        }
    };
    using Set = std::unordered_set<std::string, Hash, std::equal_to<>>;
    struct Rules {
        Set exact;      // "co.uk"
        Set wildcard;   // "ck" for "*.ck"
        Set exception;  // "www.ck" for "!www.ck"
        std::size_t skipped = 0;
    };
    std::shared_ptr<const Rules> rules_;
};

}  // namespace corio::http
