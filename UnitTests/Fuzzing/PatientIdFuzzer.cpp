// libFuzzer target: a PatientID as sent (any bytes) under a declared character set, decoded
// (DicomText) and isolated (Isolation). Its promises: decoding never fails and gives valid
// UTF-8 that is empty only for empty bytes; the isolated ID is 1-64 characters of
// [A-Za-z0-9._-] from which the upload and the ordinal read back unchanged.
#include <OrthancFramework.h>

#include "Upload/DicomText.h"
#include "Upload/Isolation.h"

#include <cstdint>
#include <cstdlib>
#include <string>

namespace
{
  const char* const kCharsets[] = {"", "ISO_IR 100", "ISO_IR100", "ISO_IR 192", "UTF8",
                                   "ISO_IR 13", "ISO_IR 144", "GB18030", "\\ISO 2022 IR 87",
                                   "ISO 2022 IR 6\\ISO 2022 IR 149", "latin1", "nonsense"};

  bool IsValidUtf8(const std::string& s)
  {
    size_t i = 0;
    while (i < s.size())
    {
      const unsigned char c = static_cast<unsigned char>(s[i]);
      const size_t n =
        c < 0x80 ? 1 : (c >> 5) == 0x6 ? 2 : (c >> 4) == 0xe ? 3 : (c >> 3) == 0x1e ? 4 : 0;
      if (n == 0 || i + n > s.size())
      {
        return false;
      }
      for (size_t j = 1; j < n; j++)
      {
        if ((static_cast<unsigned char>(s[i + j]) & 0xc0) != 0x80)
        {
          return false;
        }
      }
      i += n;
    }
    return true;
  }
}

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size)
{
  if (size < 2)
  {
    return 0;
  }
  const std::string charset = kCharsets[data[0] % (sizeof(kCharsets) / sizeof(kCharsets[0]))];
  const int64_t ordinal = 1 + data[1];
  const std::string raw(reinterpret_cast<const char*>(data) + 2, size - 2);

  const Inbound::DicomText::Decoded decoded = Inbound::DicomText::Decode(raw, charset);
  if (!IsValidUtf8(decoded.text) || decoded.text.empty() != raw.empty())
  {
    abort();
  }

  const std::string upload = "ABCDEFGHJKLM";
  const std::string id = Inbound::Isolation::MakePatientId("INB-", upload, ordinal, decoded.text);
  const std::string head = "INB-" + upload + "-" + std::to_string(ordinal);
  if (id.empty() || id.size() > 64 ||
      id.find_first_not_of("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789._-") !=
        std::string::npos ||
      id.compare(0, head.size(), head) != 0 || (id.size() > head.size() && id[head.size()] != '-'))
  {
    abort();
  }
  return 0;
}
