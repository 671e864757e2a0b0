// Fuzz target for PublicSuffixList and append_idna_label: the input is a list in the list's
// format, then (after a NUL byte) domains, one per line. No crash, no read out of bounds, and:
// a public suffix is a whole-label suffix of its domain, a registrable domain is that suffix
// and one more label, a suffix's own registrable domain is empty, and an IDNA label is ASCII
// of at most 63 bytes. (A domain's suffix need not be a suffix on its own: with "*.kobe.jp"
// and "!city.kobe.jp", www.city.kobe.jp's is kobe.jp, whose own is jp.) Violations call abort().
#include <cstddef>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <string>
#include <string_view>

#include <corio/http/public_suffix.hpp>

namespace {

void require(bool ok, const char* what) {
    if (!ok) {
        std::fprintf(stderr, "invariant violated: %s\n", what);
        std::abort();
    }
}

// `part` ends `whole` at a label boundary.
bool label_suffix(std::string_view whole, std::string_view part) {
    return whole.ends_with(part) &&
           (part.size() == whole.size() || whole[whole.size() - part.size() - 1] == '.');
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
    const std::string_view in(reinterpret_cast<const char*>(data), size);
    const std::size_t nul = in.find('\0');
    const auto list = corio::http::PublicSuffixList::parse(in.substr(0, nul));
    require(list.rules() + list.skipped() <= in.size(), "more rules than lines");
    std::string_view domains = nul == in.npos ? in : in.substr(nul + 1);
    while (!domains.empty()) {
        const std::size_t eol = std::min(domains.find('\n'), domains.size());
        const std::string_view d = domains.substr(0, eol);
        domains.remove_prefix(std::min(domains.size(), eol + 1));
        const std::string_view ps = list.public_suffix(d);
        const std::string_view reg = list.registrable_domain(d);
        if (ps.empty()) {
            require(reg.empty(), "a registrable domain without a suffix");
            continue;
        }
        require(label_suffix(d, ps), "the suffix is not a whole-label suffix");
        require(list.is_public_suffix(d) == (ps.size() == d.size()), "is_public_suffix disagrees");
        if (ps.size() == d.size()) {
            require(reg.empty(), "a suffix has a registrable domain");
        } else {
            require(label_suffix(d, reg) && label_suffix(reg, ps) && reg.size() > ps.size() + 1 &&
                        reg.substr(0, reg.size() - ps.size() - 1).find('.') == reg.npos,
                    "the registrable domain is not the suffix and one label");
        }
        std::string label = "x";
        if (corio::http::append_idna_label(label, d)) {
            const std::string_view added = std::string_view(label).substr(1);
            require(added.size() <= 63 || added == d, "an encoded label over 63 bytes");
            for (char c : added)
                require(static_cast<unsigned char>(c) < 0x80, "not ASCII");
        } else {
            require(label == "x", "a refused label appended something");
        }
    }
    return 0;
}
