#pragma once
// Link extraction from HTML for the crawler: a forgiving scanner, not a parser. It never fails
// and never reads past its input, whatever the bytes.

#include <string>
#include <string_view>
#include <vector>

namespace corio::examples::html {

/// Returns the values of every href and src attribute in `html`, in document order: tag and
/// attribute names in any case, values double-quoted, single-quoted or unquoted, character
/// references decoded (&amp; &lt; &gt; &quot; &apos; &nbsp; and numeric ones), surrounding
/// whitespace and embedded tabs and newlines removed. Skips comments, other markup
/// declarations and the contents of script and style elements. Leaves out empty values,
/// fragment-only links ("#top") and javascript:, mailto: and data: URLs. The values are not
/// resolved: pass them to Url::resolve() with the page's URL.
std::vector<std::string> extract_links(std::string_view html);

/// Decodes the character references of an attribute value (see extract_links()); unknown or
/// malformed references are kept as written.
std::string decode_entities(std::string_view text);

}  // namespace corio::examples::html
