// libFuzzer target: a partner's STOW-RS body cut into random chunks, read by StowReader, and
// read again with the body's first line as the request's Content-Type. Rules that must hold
// whatever the partner sends: no crash nor exception, no part over the cap reaches the session,
// and how the body is chunked never changes which parts are read. Each input is read on a
// thread with the stack of a civetweb thread (100 KiB), where the plugin reads it.
#include "CivetwebThread.h"
#include "Partners/StowReader.h"

#include <cstdint>
#include <cstdlib>
#include <cstring>
#include <string>
#include <vector>

namespace
{
  const char kType[] = "multipart/related; type=\"application/dicom\"; boundary=B0undary";
  const uint64_t kMaxPart = 4096;

  class RecordingSession : public Inbound::IPartnerSession
  {
  public:
    std::vector<std::string> parts;

    Inbound::StowItemResult Add(const void* body, size_t size, const std::string&) override
    {
      parts.push_back(std::string(static_cast<const char*>(body), size));
      Inbound::StowItemResult result;
      result.ok = true;
      return result;
    }

    void Close() override
    {
    }
  };

  void Check(bool condition)
  {
    if (!condition)
    {
      abort();
    }
  }

  void Read(const uint8_t* data, size_t size)
  {
    if (size < 4)
    {
      return;
    }
    // The first 4 bytes seed the chunk sizes; the rest is the body.
    uint32_t seed =
        data[0] | (data[1] << 8) | (data[2] << 16) | (static_cast<uint32_t>(data[3]) << 24);
    const uint8_t* body = data + 4;
    const size_t length = size - 4;

    RecordingSession whole;
    Inbound::StowReader one(kType, whole, "", kMaxPart);
    one.AddChunk(body, length);
    one.Close();

    RecordingSession chunked;
    Inbound::StowReader many(kType, chunked, "", kMaxPart);
    size_t at = 0;
    while (at < length)
    {
      seed = seed * 1103515245u + 12345u;
      const size_t n = std::min<size_t>(length - at, 1 + (seed >> 16) % 97);
      many.AddChunk(body + at, n);
      at += n;
    }
    many.Close();

    for (const Inbound::StowReader* reader : {&one, &many})
    {
      Check(reader->GetResults().size() >= (reader == &one ? whole : chunked).parts.size());
      Check(reader->HasFailed() || reader->GetBytesFed() == length);
    }
    for (const std::string& part : chunked.parts)
    {
      Check(part.size() <= kMaxPart);
    }
    // The body is far under the cap's slack: only the parse decides, whatever the chunking.
    Check(one.GetError() == many.GetError());
    Check(whole.parts == chunked.parts);

    // The request's Content-Type is the partner's too: the body's first line taken as the type
    // (boundary and all), the rest as the body.
    const uint8_t* newline =
        static_cast<const uint8_t*>(memchr(body, '\n', std::min<size_t>(length, 512)));
    const size_t typeLength = newline == nullptr ? 0 : static_cast<size_t>(newline - body);
    RecordingSession typedSession;
    Inbound::StowReader typed(std::string(reinterpret_cast<const char*>(body), typeLength),
                              typedSession, "", kMaxPart);
    if (typeLength < length)
    {
      typed.AddChunk(body + typeLength + 1, length - typeLength - 1);
    }
    typed.Close();
    Check(typedSession.parts.size() <= typed.GetResults().size());
    for (const std::string& part : typedSession.parts)
    {
      Check(part.size() <= kMaxPart);
    }
  }
} // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size)
{
  InboundFuzzing::RunOnCivetwebStack([data, size] { Read(data, size); });
  return 0;
}
