// Unit tests of DicomGuard's walk: every encoding, lying lengths, deflate bombs, depth and stack.
// Over 500 lines: the tests of one feature, DicomGuard's walk, with the hostile files they build.
#include "Http/ApiError.h"
#include "Upload/DicomGuard.h"
#include "Upload/DicomInspector.h"
#include "Upload/Isolation.h"

#include <OrthancException.h>

#include <boost/filesystem.hpp>
#include <dcmtk/dcmdata/dcfilefo.h>
#include <dcmtk/dcmdata/dcistrmb.h>
#include <dcmtk/dcmdata/dcsequen.h>
#include <gtest/gtest.h>
#include <pthread.h>
#include <zlib.h>

#include <chrono>
#include <fstream>
#include <functional>
#include <iterator>

using namespace Inbound;

namespace
{
  const char* const kImplicitLittle = "1.2.840.10008.1.2";
  const char* const kExplicitLittle = "1.2.840.10008.1.2.1";
  const char* const kExplicitBig = "1.2.840.10008.1.2.2";
  const char* const kDeflated = "1.2.840.10008.1.2.1.99";
  const char* const kTextSr = "1.2.840.10008.5.1.4.1.1.88.11";
  const uint32_t kUndefined = 0xffffffffu;
  const unsigned int kCap = 24;  // the default of Upload.MaxSequenceDepth

  // DICOM written byte by byte (as IntegrationTests/hostile_dicom.py does), to say exactly what a
  // hostile file holds.
  struct Encoder
  {
    bool explicitVr = true;
    bool bigEndian = false;

    std::string U16(uint16_t v) const
    {
      const char a = char(v & 0xff), b = char(v >> 8);
      return bigEndian ? std::string{b, a} : std::string{a, b};
    }

    std::string U32(uint32_t v) const
    {
      return bigEndian ? U16(uint16_t(v >> 16)) + U16(uint16_t(v))
                       : U16(uint16_t(v)) + U16(uint16_t(v >> 16));
    }

    std::string Tag(uint16_t group, uint16_t element) const
    {
      return U16(group) + U16(element);
    }

    std::string Element(uint16_t group, uint16_t element, const std::string& vr, std::string value,
                        uint32_t length = 0, bool forceLength = false) const
    {
      if (value.size() % 2 == 1)
      {
        value += (vr == "UI" || vr == "OB") ? '\0' : ' ';
      }
      const uint32_t n = forceLength ? length : uint32_t(value.size());
      if (!explicitVr)
      {
        return Tag(group, element) + U32(n) + value;
      }
      static const std::string kLong = "OB OD OF OL OV OW SQ SV UC UN UR UT UV";
      if (kLong.find(vr) != std::string::npos)
      {
        return Tag(group, element) + vr + std::string(2, '\0') + U32(n) + value;
      }
      return Tag(group, element) + vr + U16(uint16_t(n)) + value;
    }

    std::string Item(const std::string& content, bool defined) const
    {
      if (defined)
      {
        return Tag(0xfffe, 0xe000) + U32(uint32_t(content.size())) + content;
      }
      return Tag(0xfffe, 0xe000) + U32(kUndefined) + content + Tag(0xfffe, 0xe00d) + U32(0);
    }

    std::string Sequence(const std::string& items, bool defined, const std::string& vr = "SQ") const
    {
      if (defined)
      {
        return Element(0x0040, 0xa730, vr, items);
      }
      return Element(0x0040, 0xa730, vr, "", kUndefined, true) + items + Tag(0xfffe, 0xe0dd) +
             U32(0);
    }

    std::string Chain(unsigned int depth, bool defined) const
    {
      std::string content = Element(0x0040, 0xa160, "UT", "the deepest item");
      for (unsigned int i = 0; i < depth; i++)
      {
        content = Sequence(Item(content, defined), defined);
      }
      return content;
    }

    std::string Header(const std::string& sop, const std::string& patientId = "DEEP") const
    {
      return Element(0x0008, 0x0016, "UI", kTextSr) + Element(0x0008, 0x0018, "UI", sop) +
             Element(0x0008, 0x0060, "CS", "SR") + Element(0x0010, 0x0020, "LO", patientId) +
             Element(0x0020, 0x000d, "UI", sop + ".1") + Element(0x0020, 0x000e, "UI", sop + ".2");
    }
  };

  Encoder EncoderFor(const std::string& syntax)
  {
    Encoder e;
    e.explicitVr = (syntax != kImplicitLittle);
    e.bigEndian = (syntax == kExplicitBig);
    return e;
  }

  std::string RawDeflate(const std::string& data)
  {
    z_stream z;
    memset(&z, 0, sizeof(z));
    EXPECT_EQ(Z_OK, deflateInit2(&z, 9, Z_DEFLATED, -MAX_WBITS, 9, Z_DEFAULT_STRATEGY));
    std::string out(deflateBound(&z, data.size()), '\0');
    z.next_in = reinterpret_cast<Bytef*>(const_cast<char*>(data.data()));
    z.avail_in = uInt(data.size());
    z.next_out = reinterpret_cast<Bytef*>(&out[0]);
    z.avail_out = uInt(out.size());
    EXPECT_EQ(Z_STREAM_END, deflate(&z, Z_FINISH));
    out.resize(z.total_out);
    deflateEnd(&z);
    return out;
  }

  std::string Meta(const std::string& syntax, const std::string& sop)
  {
    Encoder e;
    const std::string body = e.Element(0x0002, 0x0001, "OB", std::string("\0\1", 2)) +
                             e.Element(0x0002, 0x0002, "UI", kTextSr) +
                             e.Element(0x0002, 0x0003, "UI", sop) +
                             e.Element(0x0002, 0x0010, "UI", syntax);
    return e.Element(0x0002, 0x0000, "UL", e.U32(uint32_t(body.size()))) + body;
  }

  std::string Part10(const std::string& syntax, const std::string& dataset,
                     const std::string& sop = "1.2.3.4.5")
  {
    return std::string(128, '\0') + "DICM" + Meta(syntax, sop) +
           (syntax == kDeflated ? RawDeflate(dataset) : dataset);
  }

  std::string Nested(unsigned int depth, const std::string& syntax = kExplicitLittle,
                     bool defined = false)
  {
    const Encoder e = EncoderFor(syntax);
    return Part10(syntax, e.Header("1.2.3.4.5") + e.Chain(depth, defined));
  }

  // The same as Nested(depth) in linear time, for very deep files.
  std::string DeepUndefined(unsigned int depth)
  {
    const Encoder e;
    std::string dataset = e.Header("1.2.3.4.5");
    dataset.reserve(dataset.size() + depth * 36 + 100);
    for (unsigned int i = 0; i < depth; i++)
    {
      dataset += e.Element(0x0040, 0xa730, "SQ", "", kUndefined, true) + e.Tag(0xfffe, 0xe000) +
                 e.U32(kUndefined);
    }
    dataset += e.Element(0x0040, 0xa160, "UT", "the deepest item");
    for (unsigned int i = 0; i < depth; i++)
    {
      dataset += e.Tag(0xfffe, 0xe00d) + e.U32(0) + e.Tag(0xfffe, 0xe0dd) + e.U32(0);
    }
    return Part10(kExplicitLittle, dataset);
  }

  // UN of undefined length in explicit VR holding implicit VR LE (PS3.5 6.2.2).
  std::string NestedUn(unsigned int depth, bool defined)
  {
    Encoder e;
    Encoder implicit;
    implicit.explicitVr = false;
    const std::string inner = implicit.Item(implicit.Chain(depth - 1, defined), defined);
    return Part10(kExplicitLittle, e.Header("1.2.3.4.5") + e.Sequence(inner, defined, "UN"));
  }

  DicomGuardLimits Limits(unsigned int depth = kCap, uint64_t inflated = 64 * 1024 * 1024)
  {
    DicomGuardLimits limits;
    limits.maxSequenceDepth = depth;
    limits.maxInflatedBytes = inflated;
    return limits;
  }

  // The refusal's status and code ("" when accepted) and its message.
  std::string Outcome(const std::string& file, const DicomGuardLimits& limits = Limits(),
                      std::string* message = nullptr)
  {
    try
    {
      DicomGuard::Check(file.data(), file.size(), limits);
      return "";
    }
    catch (const ApiError& e)
    {
      if (message != nullptr)
      {
        *message = e.what();
      }
      return std::to_string(e.GetStatus()) + " " + e.GetCode();
    }
  }

  std::string Read(const boost::filesystem::path& path)
  {
    std::ifstream in(path.string(), std::ios::binary);
    return std::string(std::istreambuf_iterator<char>(in), std::istreambuf_iterator<char>());
  }
}

TEST(DicomGuard, EachEncodingIsWalkedToTheCapAndRefusedBeyond)
{
  const std::vector<std::function<std::string(unsigned int)>> makers = {
    [](unsigned int d) { return Nested(d, kExplicitLittle, false); },
    [](unsigned int d) { return Nested(d, kExplicitLittle, true); },
    [](unsigned int d) { return Nested(d, kImplicitLittle, false); },
    [](unsigned int d) { return Nested(d, kImplicitLittle, true); },
    [](unsigned int d) { return Nested(d, kExplicitBig, false); },
    [](unsigned int d) { return Nested(d, kExplicitBig, true); },
    [](unsigned int d) { return Nested(d, kDeflated, false); },
    [](unsigned int d) { return NestedUn(d, false); },
    [](unsigned int d) { return NestedUn(d, true); },
  };
  for (size_t i = 0; i < makers.size(); i++)
  {
    SCOPED_TRACE("variant " + std::to_string(i));
    EXPECT_EQ("", Outcome(makers[i](1)));
    EXPECT_EQ("", Outcome(makers[i](kCap)));
    std::string message;
    EXPECT_EQ("400 invalid-dicom", Outcome(makers[i](kCap + 1), Limits(), &message));
    EXPECT_NE(std::string::npos, message.find("nested deeper than 24 levels")) << message;
    EXPECT_EQ("400 invalid-dicom", Outcome(makers[i](50)));
    EXPECT_EQ("", Outcome(makers[i](50), Limits(50)));
  }
}

TEST(DicomGuard, PydicomFilesThatDcmtkReadsPass)
{
  // The integration tests' real data: every file that DCMTK reads passes the guard at the
  // default cap, and a DICOMDIR is recognised (422) before its dataset is walked.
  const boost::filesystem::path folder("/usr/lib/python3/dist-packages/pydicom/data/test_files");
  ASSERT_TRUE(boost::filesystem::is_directory(folder));
  unsigned int read = 0;
  for (boost::filesystem::recursive_directory_iterator it(folder), end; it != end; ++it)
  {
    const std::string file = boost::filesystem::is_regular_file(it->path()) ? Read(it->path()) : "";
    if (file.size() < 132 || file.compare(128, 4, "DICM") != 0)
    {
      continue;
    }
    SCOPED_TRACE(it->path().string());
    if (DicomGuard::ReadMeta(file.data(), file.size()).mediaStorageSopClass ==
        "1.2.840.10008.1.3.10")
    {
      DicomSummary summary;
      try
      {
        DicomInspector::Check(file.data(), file.size(), Limits());
        ADD_FAILURE() << "a DICOMDIR was accepted";
      }
      catch (const ApiError& e)
      {
        EXPECT_EQ("dicomdir", e.GetCode());
      }
      continue;
    }
    try
    {
      Orthanc::ParsedDicomFile parsed(file);
    }
    catch (const Orthanc::OrthancException&)
    {
      continue;  // MR_truncated.dcm and the like: refused either way
    }
    read++;
    std::string message;
    EXPECT_EQ("", Outcome(file, Limits(), &message)) << message;
  }
  EXPECT_GT(read, 80u);
}

namespace
{
  std::string Explicit(const std::string& elements)
  {
    Encoder e;
    return Part10(kExplicitLittle, e.Header("1.2.3.4.5") + elements);
  }

  std::string Delimiter(uint16_t element, uint32_t length = 0)
  {
    Encoder e;
    return e.Tag(0xfffe, element) + e.U32(length);
  }

  std::string Text(const std::string& value)
  {
    return Encoder().Element(0x0040, 0xa160, "UT", value);
  }

  std::string PixelsEncapsulated(const std::vector<std::string>& fragments)
  {
    Encoder e;
    std::string items;
    for (const std::string& fragment : fragments)
    {
      items += e.Item(fragment, true);
    }
    return e.Element(0x7fe0, 0x0010, "OB", "", kUndefined, true) + items + Delimiter(0xe0dd);
  }
}

TEST(DicomGuard, LengthsThatLieAreRefused)
{
  Encoder e;
  const std::string item = e.Item(Text("x"), true);
  const std::map<std::string, std::string> liars = {
    {"element of 4 GB in a small file", Explicit(e.Element(0x0040, 0xa160, "UT", "x", 0xfffffff0u, true))},
    {"element 1 byte past the file", Explicit(e.Element(0x0040, 0xa160, "UT", "abcd", 5, true))},
    {"sequence longer than the file", Explicit(e.Element(0x0040, 0xa730, "SQ", item, uint32_t(item.size() + 64), true))},
    {"item longer than its sequence", Explicit(e.Element(0x0040, 0xa730, "SQ", e.Tag(0xfffe, 0xe000) + e.U32(1000) + Text("x")))},
    {"item of 4 GB", Explicit(e.Sequence(e.Tag(0xfffe, 0xe000) + e.U32(0xfffffff0u) + Text("x"), false))},
    {"element longer than its item", Explicit(e.Sequence(e.Tag(0xfffe, 0xe000) + e.U32(8) + Text("abcdefgh"), false))},
    {"sequences never closed", Explicit(e.Element(0x0040, 0xa730, "SQ", "", kUndefined, true) + e.Tag(0xfffe, 0xe000) + e.U32(kUndefined) + Text("x"))},
    {"fragment of undefined length", Explicit(e.Element(0x7fe0, 0x0010, "OB", "", kUndefined, true) + e.Tag(0xfffe, 0xe000) + e.U32(kUndefined) + e.Chain(60, false) + Delimiter(0xe00d) + Delimiter(0xe0dd))},
    {"fragment past the file", Explicit(e.Element(0x7fe0, 0x0010, "OB", "", kUndefined, true) + e.Tag(0xfffe, 0xe000) + e.U32(4000) + "abcd")},
    {"element in encapsulated pixel data", Explicit(e.Element(0x7fe0, 0x0010, "OB", "", kUndefined, true) + Text("x") + Delimiter(0xe0dd))},
    {"undefined length on UT", Explicit(e.Element(0x0040, 0xa160, "UT", "", kUndefined, true) + Delimiter(0xe0dd))},
    {"undefined length on OB other than pixel data", Explicit(e.Element(0x0042, 0x0011, "OB", "", kUndefined, true) + e.Item("ab", true) + Delimiter(0xe0dd))},
    {"unknown VR", Explicit(e.Tag(0x0040, 0xa160) + "ZZ" + e.U16(2) + "ab")},
    {"reserved bytes not zero", Explicit(e.Tag(0x0040, 0xa160) + "UT" + std::string("\x01\x00", 2) + e.U32(2) + "ab")},
    {"item delimiter at the top level", Explicit(Text("x") + Delimiter(0xe00d))},
    {"sequence delimiter at the top level", Explicit(Text("x") + Delimiter(0xe0dd))},
    {"item at the top level", Explicit(e.Item(Text("x"), true))},
    {"item delimiter in an item of defined length", Explicit(e.Sequence(e.Item(Text("x") + Delimiter(0xe00d), true), false))},
    {"sequence delimiter in a sequence of defined length", Explicit(e.Sequence(item + Delimiter(0xe0dd), true))},
    {"element directly in a sequence", Explicit(e.Sequence(Text("x"), false))},
    {"delimiter of non-zero length", Explicit(e.Sequence(item, false).substr(0, e.Sequence(item, false).size() - 4) + e.U32(4) + "abcd")},
    {"truncated header", Explicit(Text("x")).substr(0, Explicit(Text("x")).size() - 3)},
    {"3 stray bytes at the end", Explicit(Text("x")) + "abc"},
  };
  for (const auto& liar : liars)
  {
    std::string message;
    EXPECT_EQ("400 invalid-dicom", Outcome(liar.second, Limits(), &message)) << liar.first;
    EXPECT_EQ(0u, message.find("The DICOM file is refused: ")) << message;
  }
}

TEST(DicomGuard, WhatDicomAllowsPasses)
{
  Encoder e;
  // Odd lengths (DCMTK reads them), empty sequences and items, both lengths mixed, private
  // tags, encapsulated pixel data whose fragments look like nested sequences (opaque bytes).
  EXPECT_EQ("", Outcome(Explicit(e.Tag(0x0040, 0xa160) + "UT" + std::string(2, '\0') + e.U32(3) + "abc")));
  EXPECT_EQ("", Outcome(Explicit(e.Sequence("", false) )));
  EXPECT_EQ("", Outcome(Explicit(e.Sequence("", true))));
  EXPECT_EQ("", Outcome(Explicit(e.Sequence(e.Item("", false) + e.Item("", true), false))));
  EXPECT_EQ("", Outcome(Explicit(e.Sequence(e.Item(e.Chain(3, true), false), true))));
  EXPECT_EQ("", Outcome(Explicit(e.Element(0x0041, 0x0010, "LO", "CREATOR") +
                                 e.Element(0x0041, 0x1010, "OB", e.Item(e.Chain(100, true), true)))));
  EXPECT_EQ("", Outcome(Explicit(PixelsEncapsulated({"", e.Chain(100, false), std::string(5000, 'p')}))));
  // Implicit VR: a value of a known non-sequence tag that starts like an item stays opaque.
  Encoder implicit = EncoderFor(kImplicitLittle);
  EXPECT_EQ("", Outcome(Part10(kImplicitLittle, implicit.Header("1.2.3") +
                                                  implicit.Element(0x7fe0, 0x0010, "OW", implicit.Item("ab", true) + "xyz!"))));
  // ... but one of an unknown tag is walked as the sequence that DCMTK may take it for.
  EXPECT_EQ("400 invalid-dicom", Outcome(Part10(kImplicitLittle, implicit.Header("1.2.3") +
                                                  implicit.Element(0x0041, 0x1010, "UN", implicit.Item("ab", true) + "xyz!"))));
  std::string deep = implicit.Item(implicit.Chain(40, true), true);
  EXPECT_EQ("400 invalid-dicom", Outcome(Part10(kImplicitLittle, implicit.Header("1.2.3") +
                                                  implicit.Element(0x0041, 0x1010, "UN", deep))));
  EXPECT_EQ("400 invalid-dicom", Outcome(Explicit(e.Element(0x0041, 0x1010, "UN", deep))));
}

TEST(DicomGuard, FileMetaInformation)
{
  Encoder e;
  const std::string good = Nested(1);
  EXPECT_EQ("", Outcome(good));
  EXPECT_EQ("400 not-dicom", Outcome(good.substr(1)));
  EXPECT_EQ("400 not-dicom", Outcome(std::string(100, 'x')));
  EXPECT_EQ("400 invalid-dicom", Outcome(std::string(128, '\0') + "DICM"));
  EXPECT_EQ("400 invalid-dicom", Outcome(good.substr(0, 140)));
  std::string lying = good;
  lying[132 + 8] = char(lying[132 + 8] + 2);  // the group length, 2 bytes more
  EXPECT_EQ("400 invalid-dicom", Outcome(lying));
  EXPECT_EQ("400 invalid-dicom",
            Outcome(std::string(128, '\0') + "DICM" + e.Element(0x0002, 0x0010, "UI", "1.2", 0xfff0, true) + "1.2"));

  // Without a transfer syntax, or with one DCMTK does not know, the encoding is guessed as
  // DCMTK guesses it, and nesting is refused all the same.
  for (const std::string syntax : {"", "1.2.3.4.999"})
  {
    for (const std::string encoding : {kImplicitLittle, kExplicitLittle, kExplicitBig})
    {
      SCOPED_TRACE("\"" + syntax + "\" with " + encoding);
      const Encoder as = EncoderFor(encoding);
      EXPECT_EQ("", Outcome(Part10(syntax, as.Header("1.2.3") + as.Chain(kCap, false))));
      EXPECT_EQ("400 invalid-dicom", Outcome(Part10(syntax, as.Header("1.2.3") + as.Chain(kCap + 1, false))));
    }
  }
}

// The transfer syntax must be read as DCMTK reads it: DCMTK keeps the first of two equal
// elements, ignores one that is not a UI and stops at a NUL. Each difference let a file whose
// meta named implicit VR for this walk, explicit VR for DCMTK, hide 300 nested sequences
// (SIGSEGV of Orthanc on a civetweb thread).
TEST(DicomGuard, TransferSyntaxReadAsDcmtkReadsIt)
{
  Encoder e;
  const auto file = [&](const std::string& syntaxElements) {
    const std::string body = e.Element(0x0002, 0x0001, "OB", std::string("\0\1", 2)) +
                             e.Element(0x0002, 0x0002, "UI", kTextSr) +
                             e.Element(0x0002, 0x0003, "UI", "1.2.3") + syntaxElements;
    return std::string(128, '\0') + "DICM" +
           e.Element(0x0002, 0x0000, "UL", e.U32(uint32_t(body.size()))) + body +
           e.Header("1.2.3");
  };
  EXPECT_EQ("", Outcome(file(e.Element(0x0002, 0x0010, "UI", kExplicitLittle))));
  EXPECT_EQ("", Outcome(file(e.Element(0x0002, 0x0010, "UI", kExplicitLittle + std::string(1, '\0')))));
  EXPECT_EQ("400 invalid-dicom", Outcome(file(e.Element(0x0002, 0x0010, "UI", kExplicitLittle) +
                                              e.Element(0x0002, 0x0010, "UI", kImplicitLittle))));
  EXPECT_EQ("400 invalid-dicom", Outcome(file(e.Element(0x0002, 0x0010, "UI", kExplicitLittle) +
                                              e.Element(0x0002, 0x0010, "UI", kExplicitLittle))));
  EXPECT_EQ("400 invalid-dicom", Outcome(file(e.Element(0x0002, 0x0010, "OB", kImplicitLittle))));
  EXPECT_EQ("400 invalid-dicom", Outcome(file(e.Element(0x0002, 0x0010, "LO", kImplicitLittle))));
  EXPECT_EQ("400 invalid-dicom",
            Outcome(file(e.Element(0x0002, 0x0010, "UI", kImplicitLittle + std::string("\0X", 2)))));
}

namespace
{
  // A dataset that DCMTK, reading explicit VR LE, finds "depth" (> 0) sequences deep; read as
  // implicit VR, its first element's length is its VR bytes "SQ\0\0" and holds all the rest
  // (as IntegrationTests/hostile_dicom.py's hidden_in_explicit).
  std::string HiddenInExplicit(unsigned int depth)
  {
    const Encoder e;
    const std::string sq = "SQ" + std::string(2, '\0');
    const auto with = [&](uint32_t pad) {
      std::string content = e.Tag(0x0040, 0xa160) + "UT" + std::string(2, '\0') + e.U32(pad) +
                            std::string(pad, 'x');
      for (unsigned int i = 1; i < depth; i++)  // the outermost sequence is the last one
      {
        const std::string item = e.Tag(0xfffe, 0xe000) + e.U32(uint32_t(content.size())) + content;
        content = e.Tag(0x0040, 0xa730) + sq + e.U32(uint32_t(item.size())) + item;
      }
      content = e.Header("1.2.3") + content;
      const std::string item = e.Tag(0xfffe, 0xe000) + e.U32(uint32_t(content.size())) + content;
      return e.Tag(0x0008, 0x0006) + sq + e.U32(uint32_t(item.size())) + item;
    };
    return with(uint32_t(8 + 0x5153 - with(0).size()));
  }

  // The reverse: DCMTK reads implicit VR and "depth" sequences; read as explicit VR, the first
  // element is an OB whose length covers the rest.
  std::string HiddenInImplicit(unsigned int depth)
  {
    Encoder i;
    i.explicitVr = false;
    const std::string rest = i.Header("1.2.3") + i.Chain(depth, false);
    return i.Tag(0x0008, 0x0001) + "OB" + std::string(2, '\0') +
           i.U32(uint32_t(0x424f - 4 + rest.size())) + std::string(0x424f - 4, '\0') + rest;
  }

  unsigned int DepthOf(DcmItem& item)
  {
    unsigned int depth = 0;
    for (unsigned long i = 0; i < item.card(); i++)
    {
      DcmElement* element = item.getElement(i);
      if (element->ident() == EVR_SQ)
      {
        DcmSequenceOfItems& sequence = dynamic_cast<DcmSequenceOfItems&>(*element);
        for (unsigned long j = 0; j < sequence.card(); j++)
        {
          depth = std::max(depth, 1 + DepthOf(*sequence.getItem(j)));
        }
      }
    }
    return depth;
  }

  // How deep DCMTK nests what it reads of the file as Orthanc reads it (from memory, the
  // transfer syntax left to the file), complete or not: its recursion is what crashes.
  unsigned int DcmtkDepth(const std::string& file)
  {
    DcmInputBufferStream stream;
    stream.setBuffer(file.data(), offile_off_t(file.size()));
    stream.setEos();
    DcmFileFormat dicom;
    dicom.transferInit();
    dicom.read(stream, EXS_Unknown, EGL_noChange, DCM_MaxReadLength);
    dicom.transferEnd();
    return DepthOf(*dicom.getDataset());
  }
}

// The file meta group in every form seen to be read otherwise by DCMTK than by a naive
// reader (issue 13): each is either read as DCMTK reads it (nesting refused in the encoding
// DCMTK parses, accepted up to the cap) or refused. One divergence let 300 nested sequences
// through: a group length UL of 8 bytes, whose first value DCMTK takes as the group's end.
TEST(DicomGuard, FileMetaGroupVariantsAreReadAsDcmtkReadsThem)
{
  const Encoder e;
  const std::string exp = kExplicitLittle + std::string(1, '\0');
  const std::string imp = kImplicitLittle + std::string(1, '\0');
  const auto syntax = [&](const std::string& value) {  // exactly these bytes, odd or not
    return e.Tag(0x0002, 0x0010) + "UI" + e.U16(uint16_t(value.size())) + value;
  };
  const std::string start = e.Element(0x0002, 0x0001, "OB", std::string("\0\1", 2)) +
                            e.Element(0x0002, 0x0002, "UI", kTextSr) +
                            e.Element(0x0002, 0x0003, "UI", "1.2.3");
  const std::string ul = "UL" + e.U16(4);
  struct Variant
  {
    const char* name;
    std::string meta;     // all of the group after the preamble
    bool readAsDcmtk;     // else refused whatever the dataset
    bool deflate = false;
    std::string datasetEnd = "";
    bool wellFormed = true;  // the dataset is in the encoding named
  };
  const auto group = [&](const std::string& elements, int64_t lie = 0) {
    return e.Tag(0x0002, 0x0000) + ul + e.U32(uint32_t(int64_t(elements.size()) + lie)) + elements;
  };
  const std::vector<Variant> variants = {
    {"explicit", group(start + syntax(exp)), true},
    {"implicit", group(start + syntax(imp)), true},
    {"no group length", start + syntax(imp), true},
    {"syntax of odd length", group(start + syntax(kImplicitLittle)), true},
    {"syntax of zero length", group(start + syntax("")), true},
    {"syntax unknown to DCMTK", group(start + syntax("1.2.840.10008.1.2.1.99.1")), true},
    {"big endian named, little endian written", group(start + syntax(kExplicitBig)), true, false, "",
     false},
    {"group 0002 in the dataset", group(start + syntax(exp)), true, false,
     e.Element(0x0002, 0x0010, "UI", kImplicitLittle)},
    {"deflated", group(start + syntax(kDeflated)), true, true},
    {"deflated, junk after a NUL", group(start + syntax(kDeflated + std::string("\0X", 2))), false, true},
    {"syntax twice", group(start + syntax(exp) + syntax(imp)), false},
    {"syntax as OB", group(start + e.Element(0x0002, 0x0010, "OB", imp)), false},
    {"syntax with a leading space", group(start + syntax(" " + std::string(kImplicitLittle))), false},
    {"syntax, NUL, junk", group(start + syntax(kImplicitLittle + std::string("\0XY", 3))), false},
    {"media storage class twice", group(start + e.Element(0x0002, 0x0002, "UI", "1.2.840.10008.1.3.10") +
                                        syntax(exp)), false},
    {"group length short of the syntax", group(start + syntax(imp), -int64_t(syntax(imp).size())), false},
    {"group length into the dataset", group(start + syntax(exp), 12), false},
    {"syntax after the group length's end", group(start) + syntax(imp), false},
    {"group length UL of 8 bytes", e.Tag(0x0002, 0x0000) + "UL" + e.U16(8) + e.U32(uint32_t(start.size())) +
                                   e.U32(0) + start + syntax(imp), false},
    {"group length UL of 0 bytes", e.Tag(0x0002, 0x0000) + "UL" + e.U16(0) + start + syntax(imp), false},
    {"group length as OB", e.Tag(0x0002, 0x0000) + "OB" + std::string(2, '\0') + e.U32(4) +
                           e.U32(uint32_t(start.size())) + start + syntax(imp), false},
    {"group length not first", start + e.Tag(0x0002, 0x0000) + ul + e.U32(uint32_t(syntax(imp).size())) +
                               syntax(imp), false},
  };
  for (const Variant& variant : variants)
  {
    int nesting = 0;
    for (const bool explicitHides : {true, false})
    {
      SCOPED_TRACE(std::string(variant.name) + (explicitHides ? ", nesting in explicit VR" : ", nesting in implicit VR"));
      const auto file = [&](unsigned int depth) {
        const std::string dataset =
          (explicitHides ? HiddenInExplicit(depth) : HiddenInImplicit(depth)) + variant.datasetEnd;
        return std::string(128, '\0') + "DICM" + variant.meta +
               (variant.deflate ? RawDeflate(dataset) : dataset);
      };
      // Whatever is accepted, DCMTK nests no deeper than the cap.
      for (const unsigned int depth : {kCap, kCap + 1, 300u})
      {
        const std::string hostile = file(depth);
        EXPECT_TRUE(Outcome(hostile) != "" || DcmtkDepth(hostile) <= kCap) << depth;
        if (!variant.readAsDcmtk)
        {
          EXPECT_EQ("400 invalid-dicom", Outcome(hostile));
        }
      }
      // Read as DCMTK reads it, not merely refused: what DCMTK nests to the cap passes.
      if (variant.readAsDcmtk && DcmtkDepth(file(kCap + 1)) > kCap)
      {
        EXPECT_EQ("", Outcome(file(kCap)));
        nesting++;
      }
    }
    // DCMTK parsed the nesting in one of the two encodings (none: a malformed dataset).
    EXPECT_EQ(variant.readAsDcmtk && variant.wellFormed ? 1 : 0, nesting) << variant.name;
  }
}

TEST(DicomGuard, DeflatedDatasetsInflateWithinTheFileCap)
{
  Encoder e;
  const std::string dataset = e.Header("1.2.3") + e.Element(0x7fe0, 0x0010, "OB", std::string(300 * 1024 * 1024, '\0'));
  const std::string bomb = Part10(kDeflated, dataset);
  EXPECT_LT(bomb.size(), 400u * 1024);  // 300 MB in a few hundred KB
  const auto start = std::chrono::steady_clock::now();
  std::string message;
  EXPECT_EQ("413 too-large", Outcome(bomb, Limits(kCap, 50 * 1024 * 1024), &message));
  EXPECT_LT(std::chrono::steady_clock::now() - start, std::chrono::seconds(2));
  EXPECT_NE(std::string::npos, message.find("inflates to more than 52428800 bytes")) << message;

  // The cap is on the inflated dataset: exactly at it passes, one byte over it does not.
  const std::string small = e.Header("1.2.3") + Text(std::string(10000, 'a'));
  EXPECT_EQ("", Outcome(Part10(kDeflated, small), Limits(kCap, small.size())));
  EXPECT_EQ("413 too-large", Outcome(Part10(kDeflated, small), Limits(kCap, small.size() - 1)));
  // A lying length inside deflated data: beyond the cap 413, within it the stream ends first.
  EXPECT_EQ("413 too-large", Outcome(Part10(kDeflated, e.Header("1.2.3") + e.Element(0x0040, 0xa160, "UT", "x", 0xfffffff0u, true))));
  EXPECT_EQ("400 invalid-dicom", Outcome(Part10(kDeflated, e.Header("1.2.3") + e.Element(0x0040, 0xa160, "UT", "x", 1000, true))));

  // The size as parsed, which memory is reserved for: a deflated file's meta group and its
  // inflated dataset; any other file's own size.
  const std::string deflated = Part10(kDeflated, small);
  ASSERT_LT(deflated.size(), small.size() / 10);
  const size_t offset = DicomGuard::ReadMeta(deflated.data(), deflated.size()).datasetOffset;
  EXPECT_EQ(offset + small.size(), DicomGuard::Check(deflated.data(), deflated.size(), Limits()));
  const CheckedDicom checked = DicomInspector::Check(deflated.data(), deflated.size(), Limits());
  EXPECT_EQ(offset + small.size(), checked.GetParsedBytes());
  EXPECT_EQ(deflated.size(), checked.GetSize());
  const std::string plain = Part10(kExplicitLittle, small);
  EXPECT_EQ(plain.size(), DicomGuard::Check(plain.data(), plain.size(), Limits()));
  const std::string guessed = Part10("", small);
  EXPECT_EQ(guessed.size(), DicomGuard::Check(guessed.data(), guessed.size(), Limits()));

  // A damaged or cut deflate stream.
  const std::string whole = Part10(kDeflated, small);
  EXPECT_EQ("400 invalid-dicom", Outcome(whole.substr(0, whole.size() - 20)));
  std::string damaged = whole;
  damaged[damaged.size() - 30] ^= 0x55;
  damaged[damaged.size() - 31] ^= 0x55;
  EXPECT_NE("", Outcome(damaged));
}

TEST(DicomGuard, TimeIsLinearAndStackConstant)
{
  Encoder e;
  std::string many;
  for (unsigned int i = 0; i < 1000000; i++)
  {
    many += e.Element(0x0041, 0x1010, "US", "ab");
  }
  const std::string tiny = Explicit(many);  // a million 10-byte elements
  auto start = std::chrono::steady_clock::now();
  EXPECT_EQ("", Outcome(tiny));
  EXPECT_LT(std::chrono::steady_clock::now() - start, std::chrono::seconds(2));

  // 100,000 levels walked with no cap: no recursion, one frame per level on the heap.
  const std::string deep = DeepUndefined(100000);
  start = std::chrono::steady_clock::now();
  EXPECT_EQ("", Outcome(deep, Limits(std::numeric_limits<unsigned int>::max())));
  EXPECT_EQ("400 invalid-dicom", Outcome(deep));
  EXPECT_LT(std::chrono::steady_clock::now() - start, std::chrono::seconds(2));
}

namespace
{
  // Runs `work` on a thread with civetweb's stack in Orthanc 1.10.1 (USE_STACK_SIZE 102400):
  // a stack overflow kills the test binary, as it kills Orthanc.
  void OnCivetwebStack(const std::function<void()>& work)
  {
    struct Call
    {
      const std::function<void()>* work;
      static void* Run(void* self)
      {
        (*static_cast<Call*>(self)->work)();
        return nullptr;
      }
    } call{&work};
    pthread_attr_t attributes;
    ASSERT_EQ(0, pthread_attr_init(&attributes));
    ASSERT_EQ(0, pthread_attr_setstacksize(&attributes, 100 * 1024));
    pthread_t thread;
    ASSERT_EQ(0, pthread_create(&thread, &attributes, &Call::Run, &call));
    ASSERT_EQ(0, pthread_join(thread, nullptr));
    pthread_attr_destroy(&attributes);
  }

  // What the plugin does with a file on the PUT's thread: guard, parse, isolate, write.
  std::string InspectIsolateWrite(const std::string& file, unsigned int cap)
  {
    std::string outcome = "not run";
    OnCivetwebStack([&]() {
      try
      {
        DicomSummary summary;
        std::unique_ptr<Orthanc::ParsedDicomFile> dicom = DicomInspector::Parse(
          summary, DicomInspector::Check(file.data(), file.size(), Limits(cap)));
        Isolation::Apply(*dicom->GetDcmtkObject().getDataset(), "INB-ABCDEFGHJKLM-1-DEEP",
                         "ABCDEFGHJKLM", "", Isolation::Now());
        std::string written;
        dicom->SaveToMemoryBuffer(written);
        outcome = written.size() > file.size() / 2 ? "" : "short";
      }
      catch (const ApiError& e)
      {
        outcome = std::to_string(e.GetStatus()) + " " + e.GetCode();
      }
      catch (const Orthanc::OrthancException& e)
      {
        outcome = e.What();
      }
    });
    return outcome;
  }
}

TEST(DicomGuard, TheDeepestAdmittedFileIsSafeOnCivetwebsStack)
{
  // The default cap and the largest one that the configuration accepts, in every encoding;
  // one level more is refused before DCMTK runs.
  for (const unsigned int cap : {kCap, 32u})
  {
    for (const std::string syntax : {kExplicitLittle, kImplicitLittle, kExplicitBig, kDeflated})
    {
      SCOPED_TRACE(syntax + " at " + std::to_string(cap));
      EXPECT_EQ("", InspectIsolateWrite(Nested(cap, syntax), cap));
      EXPECT_EQ("", InspectIsolateWrite(Nested(cap, syntax, true), cap));
      EXPECT_EQ("400 invalid-dicom", InspectIsolateWrite(Nested(cap + 1, syntax), cap));
      EXPECT_EQ("400 invalid-dicom", InspectIsolateWrite(Nested(500, syntax), cap));
    }
    EXPECT_EQ("", InspectIsolateWrite(NestedUn(cap, false), cap));
    EXPECT_EQ("400 invalid-dicom", InspectIsolateWrite(NestedUn(cap + 1, false), cap));
  }
  // The walk itself needs no stack: 100,000 levels on the small stack, nothing else.
  const std::string deep = DeepUndefined(100000);
  std::string outcome = "not run";
  OnCivetwebStack([&]() { outcome = Outcome(deep, Limits(std::numeric_limits<unsigned int>::max())); });
  EXPECT_EQ("", outcome);
}
