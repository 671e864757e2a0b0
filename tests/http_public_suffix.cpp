// PublicSuffixList: IDNA labels (Punycode vectors, and 2,000 random labels
// against Python's codec), the list's algorithm on a small list in its own format (the cases of
// publicsuffix.org's test list: normal rules, wildcards, exceptions, IDN,
// unlisted TLDs), what parse() skips, the system's list when installed, and
// a CookieJar refusing Domain cookies on a suffix.
#include <unistd.h>

#include <algorithm>
#include <catch2/catch.hpp>
#include <cstdio>
#include <cstdlib>
#include <string>
#include <string_view>

#include <corio/http/cookie_jar.hpp>
#include <corio/http/public_suffix.hpp>

namespace http_public_suffix_test {

using corio::http::append_idna_label;
using corio::http::PublicSuffixList;

namespace {

std::string idna(std::string_view label) {
    std::string out;
    return append_idna_label(out, label) ? out : "(refused)";
}

// The list the cases below need, in the list's own format.
constexpr std::string_view small_list =
    "// ===BEGIN ICANN DOMAINS===\r\n"
    "com\r\n"
    "uk.com\n"
    "\n"
    "// jp : a wildcard and its exception\n"
    "jp\n"
    "*.kobe.jp\n"
    "!city.kobe.jp\n"
    "ck\n"
    "*.ck\n"
    "!www.ck\n"
    "us\n"
    "ak.us\n"
    "k12.ak.us   the rest of the line is not the rule\n"
    "cn\n"
    "com.cn\n"
    "\xe5\x85\xac\xe5\x8f\xb8.cn\n"  // 公司.cn
    "uk\n"
    "CO.uk\n"
    "// ===BEGIN PRIVATE DOMAINS===\n"
    "github.io";

// The registrable domain of `d` by the small list ("" for none).
std::string reg(std::string_view d) {
    static const PublicSuffixList list = PublicSuffixList::parse(small_list);
    return std::string(list.registrable_domain(d));
}

}  // namespace

TEST_CASE("IDNA labels: Punycode as RFC 3492 encodes it", "[http][psl]") {
    CHECK(idna("example") == "example");
    CHECK(idna("b\xc3\xbc"
               "cher") == "xn--bcher-kva");                    // bücher
    CHECK(idna("m\xc3\xbcnchen") == "xn--mnchen-3ya");         // münchen
    CHECK(idna("\xe5\x85\xac\xe5\x8f\xb8") == "xn--55qx5d");   // 公司
    CHECK(idna("\xe4\xb8\xad\xe5\x9b\xbd") == "xn--fiqs8s");   // 中国
    CHECK(idna("\xd1\x80\xd1\x84") == "xn--p1ai");             // рф
    CHECK(idna("\xe9\xa3\x9f\xe7\x8b\xae") == "xn--85x722f");  // 食狮
    CHECK(idna("\xce\xb5\xce\xbb") == "xn--qxam");             // ελ
    CHECK(idna("\xc3\xab"
               "x") == "xn--x-ega");                                          // ëx
    CHECK(idna("\xe2\x98\x83") == "xn--n3h");                                 // ☃
    CHECK(idna("\xe6\x97\xa5\xe6\x9c\xac\xe8\xaa\x9e") == "xn--wgv71a119e");  // 日本語
    CHECK(idna("aaaa\xc3\xbc") == "xn--aaaa-3ra");                            // aaaaü
    CHECK(idna("\xf0\x9d\x84\x9e") == "xn--md1h");                            // U+1D11E
    CHECK(idna("\xed\x95\x9c\xea\xb5\xad") == "xn--3e0b707e");                // 한국
    // Not UTF-8: a stray continuation byte, an overlong form, a surrogate, a cut sequence,
    // a code point past U+10FFFF.
    for (std::string_view bad :
         {"\x80", "a\xc0\x80", "\xed\xa0\x80", "\xe5\x85", "\xf4\x90\x80\x80"}) {
        std::string out = "kept";
        CHECK_FALSE(append_idna_label(out, bad));
        CHECK(out == "kept");
    }
    // Mixed scripts, hyphens and a code point beyond the BMP (Python: "xn--" + punycode).
    CHECK(idna("\x2d\x62\xc3\xa9\xd7\x90\x61\x61\xf0\x9f\x98\x80\xce\xb1\x61\x2d\xce\xb1\x61") ==
          "xn---baaa-a-cya425dca180df055o");
    // Longer than a DNS label (63 bytes) once encoded: 20 CJK code points give 67.
    CHECK(
        idna("\xe9\xb6\xbb\xe6\xba\xb2\xe7\xaf\xa4\xe9\x87\x98\xe5\x86\xb6\xe8\xa6\x99\xe6\xb7\xa0"
             "\xe5\x92\xa3\xe6\x88\x93\xe5\xb1\xbd\xe7\xb6\x96\xe8\xa8\x8a\xe6\xb6\x8f\xe7\xba\xbc"
             "\xe9\x8e\x99\xe5\xac\x8d\xe9\x9d\xb6\xe6\xb7\xaa\xe4\xbe\xad\xe6\xa6\xbd") ==
        "(refused)");
}

TEST_CASE("public suffixes: rules, wildcards, exceptions, IDN", "[http][psl]") {
    const PublicSuffixList list = PublicSuffixList::parse(small_list);
    CHECK(list.rules() == 17);
    CHECK(list.skipped() == 0);
    // Normal rules, the longest that matches.
    CHECK(list.is_public_suffix("com"));
    CHECK(list.is_public_suffix("COM"));
    CHECK(reg("com").empty());
    CHECK(reg("example.com") == "example.com");
    CHECK(reg("b.example.com") == "example.com");
    CHECK(reg("a.b.example.com") == "example.com");
    CHECK(reg("uk.com").empty());
    CHECK(reg("example.uk.com") == "example.uk.com");
    CHECK(reg("b.example.uk.com") == "example.uk.com");
    CHECK(reg("www.example.co.uk") == "example.co.uk");  // "CO.uk" was folded
    CHECK(reg("WWW.Example.CO.UK") == "Example.CO.UK");  // a slice of what was asked
    CHECK(list.public_suffix("a.B.github.IO") == "github.IO");
    CHECK(reg("user.github.io") == "user.github.io");
    // A wildcard and its exception.
    CHECK(reg("test.jp") == "test.jp");
    CHECK(reg("www.test.jp") == "test.jp");
    CHECK(reg("c.kobe.jp").empty());
    CHECK(reg("b.c.kobe.jp") == "b.c.kobe.jp");
    CHECK(reg("a.b.c.kobe.jp") == "b.c.kobe.jp");
    CHECK(reg("city.kobe.jp") == "city.kobe.jp");
    CHECK(reg("www.city.kobe.jp") == "city.kobe.jp");
    CHECK(reg("ck").empty());
    CHECK(reg("test.ck").empty());
    CHECK(reg("b.test.ck") == "b.test.ck");
    CHECK(reg("a.b.test.ck") == "b.test.ck");
    CHECK(reg("www.ck") == "www.ck");
    CHECK(reg("www.www.ck") == "www.ck");
    CHECK(list.public_suffix("www.www.ck") == "ck");
    // Nested rules.
    CHECK(reg("test.us") == "test.us");
    CHECK(reg("www.test.us") == "test.us");
    CHECK(reg("ak.us").empty());
    CHECK(reg("test.ak.us") == "test.ak.us");
    CHECK(reg("k12.ak.us").empty());
    CHECK(reg("test.k12.ak.us") == "test.k12.ak.us");
    CHECK(reg("www.test.k12.ak.us") == "test.k12.ak.us");
    // An IDN rule matches the host's "xn--" form.
    CHECK(reg("xn--85x722f.com.cn") == "xn--85x722f.com.cn");
    CHECK(reg("xn--85x722f.xn--55qx5d.cn") == "xn--85x722f.xn--55qx5d.cn");
    CHECK(reg("www.xn--85x722f.xn--55qx5d.cn") == "xn--85x722f.xn--55qx5d.cn");
    CHECK(reg("shishi.xn--55qx5d.cn") == "shishi.xn--55qx5d.cn");
    CHECK(list.is_public_suffix("xn--55qx5d.cn"));
    // A TLD the list does not name is a suffix all the same (the implicit "*" rule).
    CHECK(reg("example").empty());
    CHECK(reg("example.example") == "example.example");
    CHECK(reg("b.example.example") == "example.example");
    // Not names: addresses have no public suffix.
    for (std::string_view bad : {"", ".com", "example.com.", "a..com", ".", "192.0.2.1", "10.0.0.1",
                                 "[2001:db8::1]", "::1", "example.123"}) {
        INFO(bad);
        CHECK(list.public_suffix(bad).empty());
        CHECK(reg(bad).empty());
        CHECK_FALSE(list.is_public_suffix(bad));
    }
    // An empty list: the last label only.
    const PublicSuffixList empty;
    CHECK(empty.rules() == 0);
    CHECK(empty.registrable_domain("www.example.co.uk") == "co.uk");
    CHECK(empty.is_public_suffix("uk"));
}

TEST_CASE("public suffixes: lines that are not rules are skipped and counted", "[http][psl]") {
    const PublicSuffixList list = PublicSuffixList::parse(
        "\xef\xbb\xbf"
        "org\n"
        "*.*.x\n"       // '*' past the first label
        "!y\n"          // an exception of one label
        "a..b\n"        // an empty label
        ".lead\n"       // an empty first label
        "x*y.z\n"       // '*' inside a label
        "bad\xff.z\n"   // not UTF-8
        "*\n"           // the implicit rule
        "  indented\n"  // no rule before the space
        "net");
    CHECK(list.rules() == 2);
    CHECK(list.skipped() == 7);
    CHECK(list.is_public_suffix("org"));
    CHECK(list.is_public_suffix("net"));
}

TEST_CASE("public suffixes: the system's list", "[http][psl]") {
    if (::access(PublicSuffixList::system_path, R_OK) != 0) {
        WARN("no " << PublicSuffixList::system_path << " (apt-get install publicsuffix): skipped");
        return;
    }
    auto list = PublicSuffixList::load(PublicSuffixList::system_path);
    REQUIRE(list);
    CHECK(list->rules() > 5000);
    CHECK(list->skipped() == 0);
    for (std::string_view suffix : {"com", "co.uk", "github.io", "xn--55qx5d.cn", "ck"}) {
        INFO(suffix);
        CHECK(list->is_public_suffix(suffix));
    }
    CHECK(list->registrable_domain("www.example.co.uk") == "example.co.uk");
    CHECK(list->registrable_domain("user.github.io") == "user.github.io");
    CHECK(list->registrable_domain("www.city.kobe.jp") == "city.kobe.jp");
    CHECK(list->registrable_domain("www.ck") == "www.ck");
    CHECK(list->registrable_domain("a.b.example.com") == "example.com");
}

TEST_CASE("public suffixes: a file that cannot be read, or holds no rule", "[http][psl]") {
    auto missing = PublicSuffixList::load("/nonexistent/corio/psl.dat");
    REQUIRE_FALSE(missing);
    CHECK(missing.error() == std::errc::no_such_file_or_directory);
    auto dir = PublicSuffixList::load("/");
    CHECK_FALSE(dir);
    // An empty file, or a page that is not a list, would protect nothing: refused.
    char path[] = "/tmp/corio-psl-XXXXXX";
    const int fd = ::mkstemp(path);
    REQUIRE(fd >= 0);
    const std::string page = "<html>\n<body>Not found</body>\n</html>\n";
    REQUIRE(::write(fd, page.data(), page.size()) == ssize_t(page.size()));
    ::close(fd);
    auto html = PublicSuffixList::load(path);
    ::unlink(path);
    REQUIRE_FALSE(html);
    CHECK(html.error() == std::errc::bad_message);
}

TEST_CASE("public suffixes: a CookieJar refuses Domain cookies on a suffix", "[http][psl]") {
    using corio::http::CookieJar;
    using corio::http::CookieJarOptions;
    using corio::http::CookieRefusal;
    using corio::http::Url;
    const PublicSuffixList list = PublicSuffixList::parse(small_list);
    CookieJar jar(CookieJarOptions{.public_suffix = list.checker()});
    const Url site = *Url::parse("http://www.example.co.uk/");
    CHECK(jar.set(site, "a=1; Domain=co.uk") == CookieRefusal::domain);
    CHECK(jar.set(site, "b=2; Domain=example.co.uk") == CookieRefusal::none);
    CHECK(jar.header_for(*Url::parse("http://other.co.uk/")).empty());
    CHECK(jar.header_for(*Url::parse("http://shop.example.co.uk/")) == "b=2");
    // A suffix's own host may set a cookie for itself, host-only.
    const Url suffix_host = *Url::parse("http://github.io/");
    CHECK(jar.set(suffix_host, "c=3; Domain=github.io") == CookieRefusal::none);
    CHECK(jar.header_for(*Url::parse("http://user.github.io/")).empty());
    CHECK(jar.header_for(suffix_host) == "c=3");
}

TEST_CASE("public suffixes: a CookieJar's limits count a site's subdomains together",
          "[http][psl]") {
    using corio::http::CookieJar;
    using corio::http::CookieJarOptions;
    using corio::http::Url;
    const PublicSuffixList list = PublicSuffixList::parse(small_list);
    const auto fill = [](CookieJar& jar) {
        jar.set(*Url::parse("http://other.co.uk/"), "keep=1");
        for (int i = 0; i < 30; ++i) {
            for (const char* host : {"http://a.example.co.uk/", "http://b.example.co.uk/"}) {
                jar.set(*Url::parse(host), "c" + std::to_string(i) + "=" + std::to_string(i));
            }
        }
    };
    CookieJar by_site(CookieJarOptions{.max_per_domain = 50, .site = list.site_of()});
    fill(by_site);
    CHECK(by_site.size() == 51);  // example.co.uk's 60 held to 50, other.co.uk's one kept
    CHECK(by_site.header_for(*Url::parse("http://other.co.uk/")) == "keep=1");
    CHECK(by_site.header_for(*Url::parse("http://a.example.co.uk/")).find("c0=") ==
          std::string::npos);  // the oldest went first
    CookieJar by_domain(CookieJarOptions{.max_per_domain = 50});
    fill(by_domain);
    CHECK(by_domain.size() == 61);  // 30 per exact domain: under the limit
    // Addresses are sites of their own: two of them do not share a limit.
    CookieJar addresses(CookieJarOptions{.max_per_domain = 50, .site = list.site_of()});
    for (int i = 0; i < 30; ++i) {
        for (const char* host : {"http://10.0.0.1/", "http://192.168.0.1/"}) {
            addresses.set(*Url::parse(host), "c" + std::to_string(i) + "=1");
        }
    }
    CHECK(addresses.size() == 60);
}

TEST_CASE("IDNA labels agree with Python's Punycode codec on random labels", "[http][psl]") {
    // Python writes random labels (several scripts, digits, hyphens, beyond the BMP) as UTF-8
    // hex and their encoding; every one must come out the same.
    const char* script =
        "python3 -c \"import random\n"
        "random.seed(26)\n"
        "pools=[(0x61,0x7a),(0x30,0x39),(0x2d,0x2d),(0xa0,0x24f),(0x370,0x3ff),(0x400,0x4ff),"
        "(0x5d0,0x5ea),(0x4e00,0x9fff),(0xac00,0xd7a3),(0x1f300,0x1f64f),(0x10000,0x10ffff)]\n"
        "n=0\n"
        "while n<2000:\n"
        " s=''.join(chr(random.randint(*random.choice(pools))) for _ in "
        "range(random.randint(1,20)))\n"
        " if all(ord(c)<128 for c in s): continue\n"
        " print(s.encode().hex(),'xn--'+s.encode('punycode').decode()); n+=1\n"
        "\" 2>/dev/null";
    std::FILE* p = ::popen(script, "r");
    REQUIRE(p != nullptr);
    std::string out;
    char buf[4096];
    std::size_t n = 0;
    while ((n = std::fread(buf, 1, sizeof buf, p)) > 0)
        out.append(buf, n);
    const int status = ::pclose(p);
    if (status != 0 || out.empty()) {
        WARN("python3 is missing: skipped");
        return;
    }
    std::size_t checked = 0, long_ones = 0;
    for (std::size_t at = 0; at < out.size();) {
        const std::size_t eol = std::min(out.find('\n', at), out.size());
        const std::string line = out.substr(at, eol - at);
        at = eol + 1;
        const std::size_t sp = line.find(' ');
        REQUIRE(sp != std::string::npos);
        std::string label;
        for (std::size_t i = 0; i + 1 < sp; i += 2) {
            label += char(std::stoi(line.substr(i, 2), nullptr, 16));
        }
        const std::string want = line.substr(sp + 1);
        INFO(line);
        if (want.size() > 63) {
            CHECK(idna(label) == "(refused)");
            ++long_ones;
        } else {
            CHECK(idna(label) == want);
        }
        ++checked;
    }
    CHECK(checked == 2000);
    CHECK(long_ones > 0);  // the limit was met too
}

}  // namespace http_public_suffix_test
