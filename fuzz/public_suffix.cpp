// Fuzz target for PublicSuffixList and append_idna_label: the input is a list in the list's
// format, then (after a NUL byte) domains, one per line. No crash, no read out of bounds, and:
// a public suffix is a whole-label suffix of its domain, a registrable domain is that suffix
// and one more label, a suffix's own registrable domain is empty, and an IDNA label is ASCII
// of at most 63 bytes. (A domain's suffix need not be a suffix on its own: with "*.kobe.jp"
// and "!city.kobe.jp", www.city.kobe.jp's is kobe.jp, whose own is jp.) Violations call abort().
#include <algorithm>
#include <cstddef>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <string>
#include <string_view>
#include <vector>

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

// An independent reading of the list's algorithm (publicsuffix.org's wiki), for lists written
// in lower-case ASCII: every rule is tried against the domain's labels; an exception prevails,
// else the rule with the most labels, else "*"; an exception loses its leftmost label.
// Returns the number of labels of the public suffix, or -1 when the case is not one it
// decides (a rule it cannot read, more than one exception matching).
struct Rule {
    std::vector<std::string> labels;  // right to left
    bool exception = false;
};

std::vector<std::string> labels_of(std::string_view s) {
    std::vector<std::string> out;
    std::size_t end = s.size();
    for (;;) {
        const std::size_t dot = s.rfind('.', end == 0 ? 0 : end - 1);
        if (dot == s.npos || end == 0) {
            out.emplace_back(s.substr(0, end));
            return out;
        }
        out.emplace_back(s.substr(dot + 1, end - dot - 1));
        end = dot;
    }
}

bool plain_label(const std::string& l) {
    return !l.empty() && std::all_of(l.begin(), l.end(), [](char c) {
        return (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '-';
    });
}

bool all_digits(const std::string& l) {
    return std::all_of(l.begin(), l.end(), [](char c) { return c >= '0' && c <= '9'; });
}

// The rules of `text`, or false when a line is not one this reading takes exactly as the
// parser does.
bool read_rules(std::string_view text, std::vector<Rule>& rules) {
    while (!text.empty()) {
        const std::size_t eol = std::min(text.find('\n'), text.size());
        std::string_view line = text.substr(0, eol);
        text.remove_prefix(std::min(text.size(), eol + 1));
        line = line.substr(0, std::min(line.size(), line.find_first_of(" \t\r\f\v")));
        if (line.empty() || line.starts_with("//")) continue;
        Rule r;
        r.exception = line.starts_with('!');
        if (r.exception) line.remove_prefix(1);
        r.labels = labels_of(line);
        for (std::size_t i = 0; i < r.labels.size(); ++i) {
            const bool wildcard =
                !r.exception && i + 1 == r.labels.size() && i > 0 && r.labels[i] == "*";
            if (!wildcard && !plain_label(r.labels[i])) return false;
        }
        if (all_digits(r.labels[0]) || (r.exception && r.labels.size() < 2)) return false;
        rules.push_back(std::move(r));
    }
    return true;
}

int reference_suffix_labels(const std::vector<Rule>& rules, const std::vector<std::string>& d) {
    std::size_t best = 1;
    const Rule* exception = nullptr;
    for (const Rule& r : rules) {
        if (r.labels.size() > d.size()) continue;
        bool match = true;
        for (std::size_t i = 0; i < r.labels.size() && match; ++i) {
            match = r.labels[i] == "*" || r.labels[i] == d[i];
        }
        if (!match) continue;
        if (r.exception) {
            if (exception != nullptr && exception->labels.size() != r.labels.size()) return -1;
            exception = &r;
        } else {
            best = std::max(best, r.labels.size());
        }
    }
    return int(exception != nullptr ? exception->labels.size() - 1 : best);
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
    const std::string_view in(reinterpret_cast<const char*>(data), size);
    const std::size_t nul = in.find('\0');
    const auto list = corio::http::PublicSuffixList::parse(in.substr(0, nul));
    require(list.rules() + list.skipped() <= in.size(), "more rules than lines");
    std::vector<Rule> rules;
    const bool decidable = read_rules(in.substr(0, nul), rules);
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
        std::string lower(d);
        for (char& c : lower) {
            if (c >= 'A' && c <= 'Z') c = char(c + 32);
        }
        const std::vector<std::string> labels = labels_of(lower);
        if (decidable && std::all_of(labels.begin(), labels.end(), plain_label)) {
            const int want = reference_suffix_labels(rules, labels);
            require(want < 0 || std::size_t(want) == labels_of(ps).size(),
                    "the suffix is not the one the list's algorithm gives");
        }
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
