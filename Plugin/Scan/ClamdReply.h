// Parses what clamd answers to an INSTREAM scan: clean, found (signature), size limit, error.
#pragma once

#include <cstddef>
#include <string>

namespace Inbound
{
  enum ClamdReplyKind
  {
    ClamdReplyKind_Clean,      // "stream: OK"
    ClamdReplyKind_Found,      // "stream: <signature> FOUND"
    ClamdReplyKind_SizeLimit,  // "INSTREAM size limit exceeded. ERROR": over StreamMaxLength
    ClamdReplyKind_Error,      // "<anything> ERROR", "UNKNOWN COMMAND", ...
    ClamdReplyKind_Malformed   // not a reply of clamd: too long, control bytes, unknown form
  };

  // One reply of clamd, read from a socket: the bytes are not trusted to be short or printable
  // (whatever listens on the configured address answers), so the parser takes at most
  // kMaxLength bytes and keeps only printable ASCII in what it reports.
  struct ClamdReply
  {
    // The longest reply read. clamd's longest are an error with a path or a signature name
    // (at most a few hundred bytes).
    static constexpr size_t kMaxLength = 1024;

    // The longest signature name kept (ClamAV's are well under 100 characters).
    static constexpr size_t kMaxSignature = 200;

    ClamdReplyKind kind = ClamdReplyKind_Malformed;
    std::string signature;  // Found: the name clamd gave, printable ASCII without spaces
    std::string text;       // the reply's text (cut, printable) for the log

    // "data" holds what was read until clamd closed the connection or sent the reply's
    // terminator (NUL with the "z" commands; a newline is accepted too). Bytes after the
    // first terminator are ignored (a second finding, with AllMatchScan).
    static ClamdReply Parse(const void* data, size_t size);

    // Whether "data" already holds a whole reply (a terminator, or more than kMaxLength bytes):
    // the reader stops reading there.
    static bool IsComplete(const void* data, size_t size);
  };
}
