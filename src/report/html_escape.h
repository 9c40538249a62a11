// Text made safe for HTML element content and quoted attribute values:
// the five characters with a meaning there become entities.
#pragma once

#include <string>
#include <string_view>

namespace roofplan {

std::string HtmlEscape(std::string_view text);

}  // namespace roofplan
