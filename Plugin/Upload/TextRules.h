// Rules for sender text: clean UTF-8, character counts, e-mail syntax, truncation.
#pragma once

#include <string>

namespace Inbound
{
  namespace TextRules
  {
    // Valid UTF-8 without control characters (C0, DEL, C1; CR and LF included), so that no
    // sender text can break a log line, an e-mail header or a CSV export.
    bool IsCleanText(const std::string& utf8);

    // Number of Unicode code points; the string must be valid UTF-8.
    size_t CountCharacters(const std::string& utf8);

    // Strict address syntax: dot-atom local part, a domain of at least two labels.
    bool IsEmailAddress(const std::string& address);

    // At most "maxCharacters" code points of a valid UTF-8 string, never cutting a character.
    std::string Truncate(const std::string& utf8, size_t maxCharacters);

    // Any bytes made safe to store and show (the audit trail, logs): invalid UTF-8, control
    // characters (C0 with TAB, CR, LF and ESC; DEL; C1), line separators and bidirectional
    // overrides each become U+FFFD, and the result is cut to "maxCharacters" code points.
    // What a client sends cannot forge a line, a terminal escape or reordered text.
    std::string MakeSafe(const std::string& bytes, size_t maxCharacters);
  }
}
