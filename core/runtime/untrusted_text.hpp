// Text that came from a host (NQNs, and anything else read off the wire) is
// checked before the target keeps it and escaped before it reaches a log
// line, journald or D-Bus: a newline or a "<3>" after it forges log lines,
// terminal escapes rewrite an admin's screen, and D-Bus refuses strings that
// are not UTF-8.
#pragma once

#include <string>
#include <string_view>

namespace nvmfd::runtime {

// Valid UTF-8 with no control characters (C0, DEL, C1).
bool is_printable_utf8(std::string_view text);

// `text` with every byte that is not part of a printable UTF-8 character
// written as \xNN (\n, \r, \t for those): one line, safe to print.
std::string escape_untrusted(std::string_view text);

}  // namespace nvmfd::runtime
