// Unit tests of the rewrite that copies a file's pixel data as sent instead of parsing it (issue
// 20): byte for byte what the whole parse and rewrite give, and taken where it should be.
#include <OrthancFramework.h>  // first: it defines what the framework headers test

#include "Http/ApiError.h"
#include "SummaryText.h"
#include "TestSupport.h"
#include "Upload/DicomInspector.h"
#include "Upload/DicomWriter.h"
#include "Upload/Isolation.h"

#include <DicomParsing/ParsedDicomFile.h>
#include <OrthancException.h>

#include <dcmtk/dcmdata/dcdeftag.h>
#include <dcmtk/dcmdata/dcfilefo.h>
#include <dcmtk/dcmdata/dcxfer.h>

#include <gtest/gtest.h>

#include <boost/filesystem.hpp>

#include <fstream>
#include <iterator>
#include <memory>

using namespace Inbound;

namespace
{
  DicomGuardLimits Limits()
  {
    DicomGuardLimits limits;
    limits.maxInflatedBytes = 64 * 1024 * 1024;
    return limits;
  }

  std::string ReadFile(const std::string& path)
  {
    std::ifstream in(path, std::ios::binary);
    return std::string((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
  }

  void Isolate(Orthanc::ParsedDicomFile& dicom)
  {
    Isolation::Apply(*dicom.GetDcmtkObject().getDataset(), "INB-ABCDEFGHJKLM-1", "ABCDEFGHJKLM",
                     "Sender Institution", "20261204203512.123456+0000");
  }

  std::string Describe(const DicomSummary& s)
  {
    return InboundTests::DescribeSummary(s);
  }

  struct Rewrite
  {
    std::string outcome = "ok";  // or the refusal
    std::string summary;
    std::string bytes;
    bool copied = false;  // the pixel data was copied as sent
  };

  template <typename F>
  void Catch(Rewrite& rewrite, F f)
  {
    try
    {
      f();
    }
    catch (const ApiError& e)
    {
      rewrite.outcome = std::to_string(e.GetStatus()) + "/" + e.GetCode();
    }
    catch (const Orthanc::OrthancException& e)
    {
      rewrite.outcome = std::string("orthanc/") + e.What();
    }
  }

  // The upload path as it is: DicomInspector::Parse, then ArchiveSink::Isolate's steps.
  Rewrite ByUploadPath(const std::string& file)
  {
    Rewrite rewrite;
    Catch(rewrite, [&] {
      DicomSummary summary;
      const CheckedDicom checked = DicomInspector::Check(file.data(), file.size(), Limits());
      std::unique_ptr<Orthanc::ParsedDicomFile> dicom = DicomInspector::Parse(summary, checked);
      rewrite.summary = Describe(summary);
      size_t offset = 0;
      rewrite.copied =
        DicomInspector::LookupUnparsedPixelData(offset, *dicom, file.data(), file.size());
      if (rewrite.copied)
      {
        // Truly not parsed: a parse that read it whole would pass this test for nothing.
        EXPECT_FALSE(dicom->GetDcmtkObject().getDataset()->tagExists(DCM_PixelData));
      }
      Isolate(*dicom);
      DicomWriter::SaveAndRelease(rewrite.bytes, *dicom, file.data(), file.size());
    });
    return rewrite;
  }

  // What the upload path did before: the same checks and summary on a whole parse (ParseFile
  // parses whole), the whole file parsed in memory and written.
  Rewrite Whole(const std::string& file)
  {
    Rewrite rewrite;
    const boost::filesystem::path path = boost::filesystem::temp_directory_path() /
                                         boost::filesystem::unique_path("pixel-copy-%%%%%%%%");
    {
      std::ofstream out(path.string(), std::ios::binary);
      out << file;
    }
    Catch(rewrite, [&] {
      DicomSummary summary;
      DicomInspector::ParseFile(summary, DicomInspector::CheckFile(path.string(), Limits()));
      rewrite.summary = Describe(summary);
      Orthanc::ParsedDicomFile dicom(file.data(), file.size());
      Isolate(dicom);
      DicomWriter::SaveAndRelease(rewrite.bytes, dicom);
    });
    boost::filesystem::remove(path);
    return rewrite;
  }

  // Both ways give the same answer and the same bytes; returns whether the copy was taken.
  // "unreproducible" counts the files whose whole rewrite differs from one run to the next:
  // DCMTK invents a MediaStorageSOPInstanceUID when it cannot read the SOP Instance UID (sent
  // as UN in rtdose_rle*.dcm), so only their summary is compared.
  bool ExpectSameAsWhole(const std::string& file, const std::string& name,
                         size_t* unreproducible = nullptr)
  {
    const Rewrite fast = ByUploadPath(file);
    const Rewrite whole = Whole(file);
    if (unreproducible != nullptr && whole.bytes != Whole(file).bytes)
    {
      EXPECT_EQ(whole.outcome, fast.outcome) << name;
      EXPECT_EQ(whole.summary, fast.summary) << name;
      (*unreproducible)++;
      return fast.copied;
    }
    // The same refusal (the parse of a file on disk reads the same header) and summary.
    EXPECT_EQ(whole.outcome, fast.outcome) << name;
    EXPECT_EQ(whole.summary, fast.summary) << name;
    if (fast.bytes != whole.bytes)
    {
      size_t at = 0;
      while (at < fast.bytes.size() && at < whole.bytes.size() && fast.bytes[at] == whole.bytes[at])
      {
        at++;
      }
      ADD_FAILURE() << name << ": " << fast.bytes.size() << " bytes, " << whole.bytes.size()
                    << " rewritten whole, first difference at byte " << at;
    }
    return fast.copied;
  }

  std::string Le16(uint16_t v)
  {
    return std::string{char(v & 0xff), char(v >> 8)};
  }

  std::string Le32(uint32_t v)
  {
    return Le16(uint16_t(v & 0xffff)) + Le16(uint16_t(v >> 16));
  }

  // A CT-like file with "pixelBytes" of pixel data (OW when 16 bits, else OB), a sequence and
  // a private element, written by DCMTK in "syntax" with "groupLength".
  std::string MakeImage(E_TransferSyntax syntax, size_t pixelBytes, bool sixteenBits = true,
                        E_GrpLenEncoding groupLength = EGL_recalcGL)
  {
    Orthanc::ParsedDicomFile dicom(InboundTests::MakeDicom("P-1", "1.2.3", "1.2.3.4", "1.2.3.4.5"));
    DcmDataset& dataset = *dicom.GetDcmtkObject().getDataset();
    EXPECT_TRUE(dataset.putAndInsertUint16(DCM_Rows, 16).good());
    EXPECT_TRUE(dataset.putAndInsertUint16(DCM_BitsAllocated, sixteenBits ? 16 : 8).good());
    if (sixteenBits)
    {
      std::vector<Uint16> pixels(pixelBytes / 2);
      for (size_t i = 0; i < pixels.size(); i++)
      {
        pixels[i] = static_cast<Uint16>(i * 7919);
      }
      EXPECT_TRUE(dataset.putAndInsertUint16Array(DCM_PixelData, pixels.data(), pixels.size()).good());
    }
    else
    {
      std::vector<Uint8> pixels(pixelBytes);
      for (size_t i = 0; i < pixels.size(); i++)
      {
        pixels[i] = static_cast<Uint8>(i * 31);
      }
      EXPECT_TRUE(dataset.putAndInsertUint8Array(DCM_PixelData, pixels.data(), pixels.size()).good());
    }
    DcmItem* item = nullptr;
    EXPECT_TRUE(dataset.findOrCreateSequenceItem(DCM_OtherPatientIDsSequence, item).good());
    EXPECT_TRUE(item->putAndInsertString(DCM_PatientID, "OTHER-1").good());
    EXPECT_TRUE(dataset.putAndInsertString(DcmTag(0x0009, 0x0010, EVR_LO), "VENDOR").good());

    const boost::filesystem::path path = boost::filesystem::temp_directory_path() /
                                         boost::filesystem::unique_path("pixel-copy-%%%%%%%%");
    EXPECT_TRUE(dicom.GetDcmtkObject()
                  .saveFile(OFFilename(path.string().c_str()), syntax, EET_ExplicitLength,
                            groupLength)
                  .good());
    const std::string file = ReadFile(path.string());
    boost::filesystem::remove(path);
    return file;
  }

  // Where the top-level Pixel Data of an explicit VR little endian file starts.
  size_t FindPixelData(const std::string& file)
  {
    const size_t at = file.rfind(std::string("\xe0\x7f\x10\x00", 4));
    EXPECT_NE(std::string::npos, at);
    return at;
  }
}

TEST(PixelDataCopy, IsTakenForNativeLittleEndianPixelData)
{
  // The common case, a 0.5 MB CT slice in explicit VR little endian: copied, same bytes.
  const std::string ct = MakeImage(EXS_LittleEndianExplicit, 512 * 1024);
  EXPECT_TRUE(ExpectSameAsWhole(ct, "explicit OW"));
  EXPECT_TRUE(ExpectSameAsWhole(MakeImage(EXS_LittleEndianExplicit, 4096, false), "explicit OB"));
  EXPECT_TRUE(ExpectSameAsWhole(MakeImage(EXS_LittleEndianImplicit, 4096), "implicit"));
  EXPECT_TRUE(ExpectSameAsWhole(MakeImage(EXS_LittleEndianImplicit, 4096, false), "implicit 8"));

  // 16-bit pixels sent as OB: DCMTK keeps the VR it read.
  {
    std::string ob = MakeImage(EXS_LittleEndianExplicit, 4096);
    ob.replace(FindPixelData(ob) + 4, 2, "OB");
    EXPECT_TRUE(ExpectSameAsWhole(ob, "16 bits as OB"));
  }

  // The copy really is the sender's element, at the end, after the isolated header.
  const Rewrite rewrite = ByUploadPath(ct);
  const size_t pixelData = FindPixelData(ct);
  const std::string element = ct.substr(pixelData);
  ASSERT_GT(rewrite.bytes.size(), element.size());
  EXPECT_EQ(element, rewrite.bytes.substr(rewrite.bytes.size() - element.size()));
  EXPECT_NE(std::string::npos, rewrite.bytes.find("INB-ABCDEFGHJKLM-1"));

  EXPECT_NE(std::string::npos, rewrite.summary.find("1.2.840.10008.1.2.1"));
}

TEST(PixelDataCopy, EveryOtherEncodingIsRewrittenWhole)
{
  EXPECT_FALSE(ExpectSameAsWhole(MakeImage(EXS_BigEndianExplicit, 4096), "big endian"));
  EXPECT_FALSE(ExpectSameAsWhole(MakeImage(EXS_DeflatedLittleEndianExplicit, 4096), "deflated"));
  // (7FE0,0000) present: DCMTK recomputes it from the pixel data it holds.
  EXPECT_FALSE(ExpectSameAsWhole(MakeImage(EXS_LittleEndianExplicit, 4096, true, EGL_withGL),
                                 "group lengths"));
  EXPECT_FALSE(ExpectSameAsWhole(MakeImage(EXS_LittleEndianImplicit, 4096, true, EGL_withGL),
                                 "implicit group lengths"));
  // No pixel data at all.
  EXPECT_FALSE(ExpectSameAsWhole(InboundTests::MakeDicom("P-1", "1.2", "1.2.3", "1.2.3.4"),
                                 "no pixel data"));

  const std::string image = MakeImage(EXS_LittleEndianExplicit, 4096);
  const size_t pixelData = FindPixelData(image);

  // Dataset trailing padding (FFFC,FFFC) after the pixel data.
  const std::string padded =
    image + std::string("\xfc\xff\xfc\xff" "OB\0\0", 8) + Le32(4) + std::string(4, '\0');
  EXPECT_FALSE(ExpectSameAsWhole(padded, "trailing padding"));

  // A private element after the pixel data.
  const std::string trailing =
    image + std::string("\xe1\x7f\x10\x00" "LO", 6) + Le16(6) + std::string("VENDOR");
  EXPECT_FALSE(ExpectSameAsWhole(trailing, "private element after"));

  // Pixel Data sent as UN, or as OF: DCMTK may read it otherwise than as sent.
  for (const char* vr : {"UN", "OF", "OD", "OL"})
  {
    std::string other = image;
    other.replace(pixelData + 4, 2, vr);
    EXPECT_FALSE(ExpectSameAsWhole(other, vr));
  }

  // Of odd length: DCMTK pads it when it writes it.
  {
    std::string odd = image.substr(0, image.size() - 1);
    const uint32_t length = uint32_t(odd.size() - pixelData - 12);
    odd.replace(pixelData + 8, 4, Le32(length));
    EXPECT_FALSE(ExpectSameAsWhole(odd, "odd length"));
  }

  // A private element of a higher tag before the pixel data: DCMTK would write it after.
  {
    std::string before = image.substr(0, pixelData) +
                         std::string("\xe1\x7f\x10\x00" "LO", 6) + Le16(6) +
                         std::string("VENDOR") + image.substr(pixelData);
    EXPECT_FALSE(ExpectSameAsWhole(before, "private element before"));
  }

  // Pixel data in a sequence's item only, not at the top level.
  {
    Orthanc::ParsedDicomFile dicom(InboundTests::MakeDicom("P-1", "1.2", "1.2.3", "1.2.3.4"));
    DcmItem* item = nullptr;
    ASSERT_TRUE(dicom.GetDcmtkObject()
                  .getDataset()
                  ->findOrCreateSequenceItem(DCM_IconImageSequence, item)
                  .good());
    std::vector<Uint8> icon(64, 7);
    ASSERT_TRUE(item->putAndInsertUint8Array(DCM_PixelData, icon.data(), icon.size()).good());
    std::string nested;
    dicom.SaveToMemoryBuffer(nested);
    EXPECT_FALSE(ExpectSameAsWhole(nested, "nested pixel data"));
  }
}

TEST(PixelDataCopy, RealFilesGiveTheBytesOfTheWholeRewrite)
{
  // pydicom's test files (implicit, explicit, big endian, deflated, JPEG, RLE, padded,
  // truncated) and the fuzzers' hostile corpus.
  std::vector<boost::filesystem::path> folders = {
    "/usr/lib/python3/dist-packages/pydicom/data/test_files",
    boost::filesystem::path(__FILE__).parent_path() / "Fuzzing" / "Corpus" / "DicomInspector"};
  size_t tried = 0, copied = 0, unreproducible = 0;
  for (const boost::filesystem::path& folder : folders)
  {
    boost::system::error_code error;
    for (boost::filesystem::directory_iterator it(folder, error), end; !error && it != end;
         it.increment(error))
    {
      if (boost::filesystem::is_regular_file(it->path()) &&
          boost::filesystem::file_size(it->path()) < (8 << 20))
      {
        copied += ExpectSameAsWhole(ReadFile(it->path().string()), it->path().string(),
                                    &unreproducible) ? 1 : 0;
        tried++;
      }
    }
  }
  EXPECT_GT(tried, 100u);
  EXPECT_GT(copied, 5u);  // CT_small, MR_small, MR_small_implicit, rtdose...
  EXPECT_LE(unreproducible, 2u);  // rtdose_rle.dcm, rtdose_rle_1frame.dcm
}

TEST(PixelDataCopy, IsNeverWrittenWithoutItsBody)
{
  const std::string image = MakeImage(EXS_LittleEndianExplicit, 4096);
  DicomSummary summary;
  std::unique_ptr<Orthanc::ParsedDicomFile> dicom =
    DicomInspector::Parse(summary, DicomInspector::Check(image.data(), image.size(), Limits()));
  const std::string copy = image;
  size_t offset = 0;
  EXPECT_THROW(DicomInspector::LookupUnparsedPixelData(offset, *dicom, copy.data(), copy.size()),
               Orthanc::OrthancException);
  EXPECT_TRUE(DicomInspector::LookupUnparsedPixelData(offset, *dicom, image.data(), image.size()));
  EXPECT_EQ(FindPixelData(image), offset);
  // Nor is it written without its body, or with another one.
  std::string written;
  EXPECT_THROW(DicomWriter::SaveAndRelease(written, *dicom), Orthanc::OrthancException);
  EXPECT_THROW(DicomWriter::SaveAndRelease(written, *dicom, copy.data(), copy.size()),
               Orthanc::OrthancException);
  DicomWriter::SaveAndRelease(written, *dicom, image.data(), image.size());
  EXPECT_EQ(image.substr(offset), written.substr(written.size() - (image.size() - offset)));
}
