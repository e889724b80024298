// libFuzzer target: clamd's answer to a scan (whatever listens at Inbound.Scan.Clamd may send
// anything), with the rules that must hold whatever it sends: only a well-formed "FOUND" names
// a signature, what is kept is short and printable, and only kMaxLength bytes are looked at.
#include "Scan/ClamdReply.h"

#include <cstdint>
#include <cstdlib>
#include <string>

namespace
{
  bool IsPrintable(const std::string& text)
  {
    for (char c : text)
    {
      if (c < 0x20 || c >= 0x7f)
      {
        return false;
      }
    }
    return true;
  }

  void Check(bool condition)
  {
    if (!condition)
    {
      abort();
    }
  }
}

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size)
{
  using Inbound::ClamdReply;
  const ClamdReply reply = ClamdReply::Parse(data, size);
  Check(IsPrintable(reply.text) && reply.text.size() <= 200);
  Check(IsPrintable(reply.signature) && reply.signature.size() <= ClamdReply::kMaxSignature);
  Check((reply.kind == Inbound::ClamdReplyKind_Found) == !reply.signature.empty());
  Check(reply.signature.find(' ') == std::string::npos);
  if (size > ClamdReply::kMaxLength)
  {
    Check(ClamdReply::IsComplete(data, size));
    // The bytes past the cap never change the verdict.
    const ClamdReply capped = ClamdReply::Parse(data, ClamdReply::kMaxLength + 1);
    Check(capped.kind == reply.kind && capped.signature == reply.signature);
  }
  return 0;
}
