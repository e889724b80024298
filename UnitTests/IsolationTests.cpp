// Unit tests of patient isolation: the PatientID rule, ordinals, the rewrite, lossless decoding.
#include <OrthancFramework.h>  // first: it defines what the framework headers test
#include "LedgerBackends.h"

#include "Http/ApiError.h"
#include "Ledger/Ledger.h"
#include "Toolbox/Crypto.h"
#include "Toolbox/UploadId.h"
#include "Upload/DicomInspector.h"
#include "Upload/DicomText.h"
#include "Upload/DicomWriter.h"
#include "Upload/Isolation.h"

#include <OrthancException.h>

#include <dcmtk/dcmdata/dcdatset.h>
#include <dcmtk/dcmdata/dcdeftag.h>
#include <dcmtk/dcmdata/dcfilefo.h>
#include <dcmtk/dcmdata/dcistrmb.h>
#include <dcmtk/dcmdata/dcostrmb.h>
#include <dcmtk/dcmdata/dcsequen.h>
#include <dcmtk/dcmdata/dcuid.h>
#include <dcmtk/dcmdata/dcvrlo.h>

#include <gtest/gtest.h>

#include <map>
#include <random>
#include <set>
#include <thread>

using namespace Inbound;

namespace
{
  const std::string kUpload = "ABCDEFGHJKLM";

  // The (upload, k) that the rule says can be read back from any isolated ID.
  std::pair<std::string, std::string> ReadBack(const std::string& prefix, const std::string& id)
  {
    EXPECT_EQ(0u, id.compare(0, prefix.size(), prefix));
    const std::string upload = id.substr(prefix.size(), kUploadIdLength);
    const size_t start = prefix.size() + kUploadIdLength;
    EXPECT_EQ('-', id[start]);
    const size_t end = id.find('-', start + 1);
    return {upload, id.substr(start + 1, end == std::string::npos ? std::string::npos
                                                                    : end - start - 1)};
  }

  bool IsIsolatedText(const std::string& id)
  {
    return !id.empty() && id.size() <= 64 &&
           id.find_first_not_of("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz"
                                "0123456789._-") == std::string::npos;
  }
}

TEST(UploadId, PublicFormatOnly)
{
  EXPECT_TRUE(IsUploadId("ABCDEFGHJKLM"));
  EXPECT_TRUE(IsUploadId("23456789ZZZZ"));
  EXPECT_FALSE(IsUploadId(""));
  EXPECT_FALSE(IsUploadId("ABCDEFGHJKL"));     // 11
  EXPECT_FALSE(IsUploadId("ABCDEFGHJKLMN"));   // 13
  EXPECT_FALSE(IsUploadId("ABCDEFGHJKL0"));    // 0 is not in the alphabet
  EXPECT_FALSE(IsUploadId("ABCDEFGHJKLI"));    // nor I, O, 1
  EXPECT_FALSE(IsUploadId("abcdefghjklm"));
  EXPECT_FALSE(IsUploadId("AAAA-1234567"));
  EXPECT_FALSE(IsUploadId(std::string("ABCDEFGHJKL\0", 12)));
}

TEST(Isolation, RuleAndLengths)
{
  EXPECT_EQ("INB-" + kUpload + "-1", Isolation::MakePatientId("INB-", kUpload, 1, ""));
  EXPECT_EQ("INB-" + kUpload + "-3-P9", Isolation::MakePatientId("INB-", kUpload, 3, "P9"));
  EXPECT_EQ("INB-" + kUpload + "-2-A_B", Isolation::MakePatientId("INB-", kUpload, 2, "A\\B"));
  EXPECT_EQ("INB-" + kUpload + "-2-K_HLER-100",
            Isolation::MakePatientId("INB-", kUpload, 2, "K\xc3\x96HLER-100"));
  EXPECT_EQ("INB-" + kUpload + "-1-a_b_c",
            Isolation::MakePatientId("INB-", kUpload, 1, "a b\xe2\x82\xac" "c"));
  for (size_t length = 0; length <= 100; length++)
  {
    const std::string original(length, '7');
    const std::string id = Isolation::MakePatientId("INB-", kUpload, 12, original);
    EXPECT_TRUE(IsIsolatedText(id)) << id;
    const std::string base = "INB-" + kUpload + "-12";
    if (length == 0)
    {
      EXPECT_EQ(base, id);
    }
    else
    {
      EXPECT_EQ(std::min<size_t>(64, base.size() + 1 + length), id.size());
      EXPECT_EQ(base + "-", id.substr(0, base.size() + 1));
    }
  }
  // The longest prefix and the largest k still fit, and the readable part goes first.
  const std::string prefix(16, 'p');
  const std::string big = Isolation::MakePatientId(prefix, kUpload, INT64_MAX, "ORIGINAL");
  EXPECT_LE(big.size(), 64u);
  EXPECT_EQ((prefix + kUpload + "-9223372036854775807-ORIGINAL").substr(0, 64), big);
  EXPECT_EQ(std::make_pair(kUpload, std::string("9223372036854775807")), ReadBack(prefix, big));
}

TEST(Isolation, FailsClosedOnMalformedInput)
{
  EXPECT_THROW(Isolation::MakePatientId("INB-", "AAAA-1234", 1, "P9"), Orthanc::OrthancException);
  EXPECT_THROW(Isolation::MakePatientId("INB-", "ABCDEFGHJKLMN", 1, "P9"),
               Orthanc::OrthancException);
  EXPECT_THROW(Isolation::MakePatientId("INB-", kUpload, 0, "P9"), Orthanc::OrthancException);
  EXPECT_THROW(Isolation::MakePatientId("", kUpload, 1, "P9"), Orthanc::OrthancException);
  EXPECT_THROW(Isolation::MakePatientId(std::string(17, 'p'), kUpload, 1, "P9"),
               Orthanc::OrthancException);
  EXPECT_THROW(Isolation::MakePatientId("IN B", kUpload, 1, "P9"), Orthanc::OrthancException);
}

TEST(Isolation, NeverMergesTwoPatients)
{
  // Random raw PatientIDs, many of them shaped like isolated IDs themselves, in three
  // uploads: equal isolated IDs only for equal bytes in the same upload.
  Ledger ledger(InboundTests::TestLedgerLocation());
  std::mt19937 random(14);
  const std::vector<std::string> uploads = {kUpload, "ABCDEFGHJKLN", "23456789ABCD"};
  std::vector<std::string> raws = {"", "P9", "1234-P9", "AAAA-1234", std::string(52, '1'),
                                   std::string(51, '1') + "2", "K\xd6HLER-100", "K\xdcHLER-100",
                                   "A\\B", "A_B", "A B"};
  const std::string alphabet = "0123456789-_.ABCDEFGHJKLM\\ \xc3\x96\xd6\xdc";
  for (int i = 0; i < 400; i++)
  {
    std::string raw;
    if (i % 3 == 0)
    {
      raw = "INB-" + uploads[random() % uploads.size()] + "-" + std::to_string(random() % 5);
    }
    const size_t length = random() % 70;
    for (size_t j = 0; j < length; j++)
    {
      raw.push_back(alphabet[random() % alphabet.size()]);
    }
    raws.push_back(raw);
  }

  std::map<std::string, std::pair<std::string, std::string>> seen;  // isolated -> upload, raw
  for (int round = 0; round < 2; round++)  // the second round: the same bytes, the same IDs
  {
    for (const std::string& upload : uploads)
    {
      for (const std::string& raw : raws)
      {
        const std::string text = DicomText::Decode(raw, "ISO_IR 100").text;
        const std::string id = Isolation::MakePatientId(
            "INB-", upload, ledger.Patients().GetOrdinal(upload, raw), text);
        ASSERT_TRUE(IsIsolatedText(id)) << id;
        EXPECT_EQ(upload, ReadBack("INB-", id).first);
        auto found = seen.emplace(id, std::make_pair(upload, raw));
        EXPECT_EQ(found.first->second, std::make_pair(upload, raw)) << id;
      }
    }
  }
  std::set<std::string> distinct(raws.begin(), raws.end());
  EXPECT_EQ(distinct.size() * uploads.size(), seen.size());
}

TEST(Isolation, OrdinalsUnderConcurrency)
{
  // Files of one upload stored at once: the same bytes get one k, different bytes different
  // k, and the ks are 1..n without gaps.
  Ledger ledger(InboundTests::TestLedgerLocation());
  const int kThreads = 8;
  const int kPatients = 40;
  std::vector<std::map<std::string, int64_t>> results(kThreads);
  std::vector<std::thread> threads;
  for (int t = 0; t < kThreads; t++)
  {
    threads.emplace_back([&, t]() {
      for (int i = 0; i < kPatients; i++)
      {
        const std::string raw = "P" + std::to_string((i * 7 + t * 13) % kPatients);
        results[t][raw] = ledger.Patients().GetOrdinal(kUpload, raw);
      }
    });
  }
  for (std::thread& thread : threads)
  {
    thread.join();
  }
  std::set<int64_t> ordinals;
  for (const auto& entry : results[0])
  {
    ordinals.insert(entry.second);
    for (int t = 1; t < kThreads; t++)
    {
      EXPECT_EQ(entry.second, results[t].at(entry.first)) << entry.first;
    }
  }
  EXPECT_EQ(size_t(kPatients), ordinals.size());
  EXPECT_EQ(1, *ordinals.begin());
  EXPECT_EQ(kPatients, *ordinals.rbegin());
  EXPECT_EQ(1, ledger.Patients().GetOrdinal("ABCDEFGHJKLN", "P0")); // per upload
}

TEST(Isolation, PurgeForgetsOrdinals)
{
  Ledger ledger(InboundTests::TestLedgerLocation());
  EXPECT_EQ(1, ledger.Patients().GetOrdinal(kUpload, "A"));
  EXPECT_EQ(2, ledger.Patients().GetOrdinal(kUpload, "B"));
  EXPECT_EQ(1, ledger.Patients().GetOrdinal(kUpload, "A"));
  EXPECT_EQ(3, ledger.Patients().GetOrdinal(kUpload, std::string())); // absent or empty: one more
  ledger.Uploads().MarkPurged(kUpload, 1, "test");
  EXPECT_EQ(1, ledger.Patients().GetOrdinal(kUpload, "B"));
}

TEST(DicomText, DecodingTable)
{
  struct Case
  {
    std::string raw;
    std::string charset;
    std::string text;
    bool exact;
  };
  const Case cases[] = {
    {"KOHLER", "", "KOHLER", true},
    {"KOHLER", "ISO_IR 192", "KOHLER", true},
    {"K\xd6HLER", "ISO_IR 100", "K\xc3\x96HLER", true},
    {"K\xd6HLER", "ISO 2022 IR 100", "K\xc3\x96HLER", true},
    {"K\xd6HLER", "ISO_IR100", "K\xc3\x96HLER", false},   // misspelt: read as meant
    {"K\xd6HLER", "ISO-8859-1", "K\xc3\x96HLER", false},
    {"K\xd6HLER", "ISO8859-1", "K\xc3\x96HLER", false},
    {"K\xd6HLER", "latin1", "K\xc3\x96HLER", false},
    {"K\xc3\x96HLER", "UTF-8", "K\xc3\x96HLER", false},
    {"K\xc3\x96HLER", "UTF8", "K\xc3\x96HLER", false},
    {"K\xc3\x96HLER", "ISO_IR 192", "K\xc3\x96HLER", true},
    {"K\xd6HLER", "ISO_IR 192", "K\xc3\x96HLER", false},  // Latin-1 bytes declared UTF-8
    {"K\xd6HLER", "", "K\xc3\x96HLER", false},            // undeclared
    {"K\xd6HLER", "NO SUCH SET", "K\xc3\x96HLER", false},
    {"K\xc3\x96HLER", "", "K\xc3\x96HLER", false},        // undeclared, valid UTF-8
    {"K\xc3\x96HLER", "ISO_IR 100", "K\xc3\x96HLER", false},  // 0x96 is no ISO-IR 100 character
    {"\xc4\xcf\xc5", "ISO_IR 144", "\xd0\xa4\xd0\xaf\xd0\xa5", true},  // Cyrillic
    {"\xb1\xb2", "ISO_IR 13", "\xef\xbd\xb1\xef\xbd\xb2", true},        // half-width katakana
    {"\xff\xfe", "ISO_IR 192", "\xc3\xbf\xc3\xbe", false},  // neither: Latin-1, byte by byte
    {"@\xf8\xb8\xb8\xb8\xb8", "ISO_IR 192",  // a 5-byte form, which glibc's iconv passes
     "@\xc3\xb8\xc2\xb8\xc2\xb8\xc2\xb8\xc2\xb8", false},
    {"\xed\xa0\x80", "", "\xc3\xad\xc2\xa0\xc2\x80", false},  // a surrogate is no UTF-8
    {"\x1b$B;3ED\x1b(B-7", "\\ISO 2022 IR 87", "\xe5\xb1\xb1\xe7\x94\xb0-7", true},  // 山田-7
    // The same text with a redundant escape at the end: not the only encoding of it, so
    // not exact (the bytes are kept beside it).
    {"\x1b$B;3ED\x1b(B-7\x1b(B", "\\ISO 2022 IR 87", "\xe5\xb1\xb1\xe7\x94\xb0-7", false},
    // Escapes and no character: not an empty PatientID, the bytes as they are.
    {"\x1b(B", "\\ISO 2022 IR 87", "\x1b(B", false},
    {"\x1b$B", "\\ISO 2022 IR 87", "\x1b$B", false},
  };
  for (const Case& c : cases)
  {
    const DicomText::Decoded decoded = DicomText::Decode(c.raw, c.charset);
    EXPECT_EQ(c.text, decoded.text) << Crypto::ToHex(c.raw) << " " << c.charset;
    EXPECT_EQ(c.exact, decoded.exact) << Crypto::ToHex(c.raw) << " " << c.charset;
  }
  // Two IDs that Orthanc's decoding made one stay two.
  EXPECT_NE(DicomText::Decode("K\xd6HLER-100", "ISO_IR100").text,
            DicomText::Decode("K\xdcHLER-100", "ISO_IR100").text);
  EXPECT_EQ("4bd6", Crypto::ToHex("K\xd6"));
}

namespace
{
  std::string Save(DcmFileFormat& file, E_TransferSyntax syntax)
  {
    file.getDataset()->chooseRepresentation(syntax, nullptr);
    const Uint32 size = file.calcElementLength(syntax, EET_ExplicitLength) + 1024;
    std::string buffer(size, '\0');
    DcmOutputBufferStream out(&buffer[0], size);
    file.transferInit();
    EXPECT_TRUE(file.write(out, syntax, EET_ExplicitLength, nullptr).good());
    file.transferEnd();
    void* data = nullptr;
    offile_off_t length = 0;
    out.flushBuffer(data, length);
    buffer.resize(static_cast<size_t>(length));
    return buffer;
  }

  std::string RawOf(DcmItem& item, const DcmTagKey& tag)
  {
    std::string value;
    EXPECT_TRUE(DicomText::ReadRaw(value, item, tag)) << tag.toString().c_str();
    return value;
  }
}

TEST(Isolation, ApplyRecordsTheSenderValuesAndKeepsTheRest)
{
  DcmFileFormat file;
  DcmDataset& d = *file.getDataset();
  d.putAndInsertString(DCM_SOPClassUID, UID_SecondaryCaptureImageStorage);
  d.putAndInsertString(DCM_SOPInstanceUID, "1.2.3.4.5");
  d.putAndInsertString(DCM_StudyInstanceUID, "1.2.3");
  d.putAndInsertString(DCM_SeriesInstanceUID, "1.2.3.4");
  d.putAndInsertString(DCM_SpecificCharacterSet, "ISO_IR 100");
  d.putAndInsertString(DCM_PatientID, "K\xd6HLER\\100");  // Latin-1, with a backslash
  d.putAndInsertString(DCM_IssuerOfPatientID, "CLINIC-A");
  d.putAndInsertString(DCM_PatientName, "K\xd6hler^Anna");
  DcmItem* qualifier = nullptr;
  d.findOrCreateSequenceItem(DCM_IssuerOfPatientIDQualifiersSequence, qualifier, -2);
  qualifier->putAndInsertString(DCM_UniversalEntityID, "1.2.826.0.1.3680043.2.1");
  qualifier->putAndInsertString(DCM_UniversalEntityIDType, "ISO");
  DcmItem* earlier = nullptr;  // someone's earlier coercion, to be kept
  d.findOrCreateSequenceItem(DCM_OriginalAttributesSequence, earlier, -2);
  earlier->putAndInsertString(DCM_ModifyingSystem, "EARLIER-PACS");
  d.putAndInsertString(DcmTag(0x0009, 0x0010, EVR_LO), "ACME");       // private creator
  d.putAndInsertString(DcmTag(0x0009, 0x1001, EVR_LO), "private \xe9");  // private element
  const Uint8 pixels[4] = {1, 2, 3, 4};
  d.putAndInsertUint16(DCM_Rows, 2);
  d.putAndInsertUint16(DCM_Columns, 2);
  d.putAndInsertUint16(DCM_BitsAllocated, 8);
  d.putAndInsertUint8Array(DCM_PixelData, pixels, 4);
  const std::string sent = Save(file, EXS_LittleEndianExplicit);

  // Through the inspector, as the upload path does.
  DicomGuardLimits limits;
  DicomSummary summary;
  std::unique_ptr<Orthanc::ParsedDicomFile> dicom =
    DicomInspector::Parse(summary, DicomInspector::Check(sent.data(), sent.size(), limits));
  EXPECT_EQ("K\xd6HLER\\100", summary.patientIdBytes);
  EXPECT_EQ("K\xc3\x96HLER\\100", summary.patientId);
  EXPECT_TRUE(summary.patientIdExact);
  EXPECT_EQ("K\xc3\x96hler^Anna", summary.patientName);

  const std::string isolated = Isolation::MakePatientId("INB-", kUpload, 1, summary.patientId);
  EXPECT_EQ("INB-" + kUpload + "-1-K_HLER_100", isolated);
  Isolation::Apply(*dicom->GetDcmtkObject().getDataset(), isolated, kUpload, "Clinic A",
                   "20261204203512.000000+0000");
  std::string written;
  DicomWriter::SaveAndRelease(written, *dicom, sent.data(), sent.size());

  // Parsed back with DCMTK: compared element by element with what was sent.
  DcmInputBufferStream in;
  in.setBuffer(written.data(), written.size());
  in.setEos();
  DcmFileFormat back;
  back.transferInit();
  ASSERT_TRUE(back.read(in).good());
  back.transferEnd();
  DcmDataset& b = *back.getDataset();
  EXPECT_EQ(isolated, RawOf(b, DCM_PatientID));
  EXPECT_EQ("ORTHANC-INBOUND " + kUpload, RawOf(b, DCM_IssuerOfPatientID));
  EXPECT_FALSE(b.tagExists(DCM_IssuerOfPatientIDQualifiersSequence));
  EXPECT_EQ("K\xd6hler^Anna", RawOf(b, DCM_PatientName));
  EXPECT_EQ("private \xe9", RawOf(b, DcmTagKey(0x0009, 0x1001)));
  EXPECT_EQ("ISO_IR 100", RawOf(b, DCM_SpecificCharacterSet));
  const Uint8* pixelsBack = nullptr;
  ASSERT_TRUE(b.findAndGetUint8Array(DCM_PixelData, pixelsBack).good());
  EXPECT_EQ(0, memcmp(pixels, pixelsBack, 4));

  DcmSequenceOfItems* original = nullptr;
  ASSERT_TRUE(b.findAndGetSequence(DCM_OriginalAttributesSequence, original).good());
  ASSERT_EQ(2u, original->card());
  EXPECT_EQ("EARLIER-PACS", RawOf(*original->getItem(0), DCM_ModifyingSystem));
  DcmItem& mine = *original->getItem(1);
  EXPECT_EQ("ORTHANC-INBOUND", RawOf(mine, DCM_ModifyingSystem));
  EXPECT_EQ("COERCE", RawOf(mine, DCM_ReasonForTheAttributeModification));
  EXPECT_EQ("Clinic A", RawOf(mine, DCM_SourceOfPreviousValues));
  EXPECT_EQ("20261204203512.000000+0000", RawOf(mine, DCM_AttributeModificationDateTime));
  DcmSequenceOfItems* modified = nullptr;
  ASSERT_TRUE(mine.findAndGetSequence(DCM_ModifiedAttributesSequence, modified).good());
  ASSERT_EQ(1u, modified->card());
  DcmItem& previous = *modified->getItem(0);
  EXPECT_EQ("K\xd6HLER\\100", RawOf(previous, DCM_PatientID));  // bytes as sent
  EXPECT_EQ("CLINIC-A", RawOf(previous, DCM_IssuerOfPatientID));
  DcmItem* qualifierBack = nullptr;
  ASSERT_TRUE(
    previous.findAndGetSequenceItem(DCM_IssuerOfPatientIDQualifiersSequence, qualifierBack, 0)
      .good());
  EXPECT_EQ("1.2.826.0.1.3680043.2.1", RawOf(*qualifierBack, DCM_UniversalEntityID));
  EXPECT_EQ("ISO", RawOf(*qualifierBack, DCM_UniversalEntityIDType));
}

TEST(Isolation, ApplyRecordsAbsentValuesWithZeroLength)
{
  DcmDataset d;
  d.putAndInsertString(DCM_SOPInstanceUID, "1.2.3.4.5");
  Isolation::Apply(d, "INB-" + kUpload + "-1", kUpload, "Kl\xc3\xbcnik", Isolation::Now());
  DcmItem* mine = nullptr;
  ASSERT_TRUE(d.findAndGetSequenceItem(DCM_OriginalAttributesSequence, mine, 0).good());
  DcmItem* previous = nullptr;
  ASSERT_TRUE(mine->findAndGetSequenceItem(DCM_ModifiedAttributesSequence, previous, 0).good());
  EXPECT_EQ("", RawOf(*previous, DCM_PatientID));  // present, zero length
  EXPECT_EQ("", RawOf(*previous, DCM_IssuerOfPatientID));
  EXPECT_FALSE(previous->tagExists(DCM_IssuerOfPatientIDQualifiersSequence));
  // Not ASCII and the file does not declare UTF-8: left empty rather than re-encoded.
  EXPECT_EQ("", RawOf(*mine, DCM_SourceOfPreviousValues));
  EXPECT_EQ(26u, RawOf(*mine, DCM_AttributeModificationDateTime).size());

  EXPECT_THROW(Isolation::Apply(d, "INB-" + kUpload + "-1", "AAAA-1234", "", Isolation::Now()),
               Orthanc::OrthancException);
  EXPECT_THROW(Isolation::Apply(d, "INB-X\\Y", kUpload, "", Isolation::Now()),
               Orthanc::OrthancException);
}

TEST(Isolation, TrailingSpacesAreOnlyPadding)
{
  // "PAD-7" sent with three trailing spaces is the PatientID "PAD-7" (trailing spaces of LO
  // are not significant, PS3.5 6.2): the same key as "PAD-7", and its record reads "PAD-7".
  // (DCMTK writes every string element with at most one pad byte; see doc/Architecture.md,
  // "Isolated PatientIDs".)
  DcmFileFormat file;
  DcmDataset& d = *file.getDataset();
  d.putAndInsertString(DCM_SOPClassUID, UID_SecondaryCaptureImageStorage);
  d.putAndInsertString(DCM_SOPInstanceUID, "1.2.3.4.5");
  d.putAndInsertString(DCM_StudyInstanceUID, "1.2.3");
  d.putAndInsertString(DCM_SeriesInstanceUID, "1.2.3.4");
  d.putAndInsertString(DCM_PatientID, "PAD-7###");
  std::string sent = Save(file, EXS_LittleEndianExplicit);
  sent.replace(sent.find("PAD-7###"), 8, "PAD-7   ");  // as another system may send it

  DicomGuardLimits limits;
  DicomSummary summary;
  std::unique_ptr<Orthanc::ParsedDicomFile> dicom =
    DicomInspector::Parse(summary, DicomInspector::Check(sent.data(), sent.size(), limits));
  EXPECT_EQ("PAD-7", summary.patientIdBytes);
  EXPECT_EQ("PAD-7", summary.patientId);
  Isolation::Apply(*dicom->GetDcmtkObject().getDataset(), "INB-" + kUpload + "-1-PAD-7",
                   kUpload, "", Isolation::Now());
  std::string written;
  dicom->SaveToMemoryBuffer(written);
  DcmInputBufferStream in;
  in.setBuffer(written.data(), written.size());
  in.setEos();
  DcmFileFormat back;
  back.transferInit();
  ASSERT_TRUE(back.read(in).good());
  back.transferEnd();
  DcmItem* mine = nullptr;
  ASSERT_TRUE(
    back.getDataset()->findAndGetSequenceItem(DCM_OriginalAttributesSequence, mine, 0).good());
  DcmItem* previous = nullptr;
  ASSERT_TRUE(mine->findAndGetSequenceItem(DCM_ModifiedAttributesSequence, previous, 0).good());
  EXPECT_EQ("PAD-7", RawOf(*previous, DCM_PatientID));
}

TEST(DicomText, AValueThatIsNoValueFailsClosed)
{
  // A PatientID sent as a sequence has no bytes: read as "" it would join the patient of the
  // files without a PatientID.
  DcmDataset d;
  DcmItem* item = nullptr;
  ASSERT_TRUE(d.findOrCreateSequenceItem(DCM_PatientID, item, -2).good() ||
              d.insert(new DcmSequenceOfItems(DCM_PatientID)).good());
  std::string value;
  EXPECT_THROW(DicomText::ReadRaw(value, d, DCM_PatientID), ApiError);
  EXPECT_FALSE(DicomText::ReadRaw(value, d, DCM_IssuerOfPatientID));  // absent: no error
  EXPECT_EQ("", value);
}

TEST(Isolation, IsolatedPatientIdsAreRecognised)
{
  // Every ID the rule makes is recognised, with its prefix only.
  for (const std::string& original :
       std::vector<std::string>{"", "P9", "A\\B", "K\xc3\x96HLER-100", std::string(80, '7')})
  {
    for (int64_t ordinal : {1, 7, 10, 123456789})
    {
      const std::string id = Isolation::MakePatientId("INB-", kUpload, ordinal, original);
      EXPECT_TRUE(Isolation::IsIsolatedPatientId("INB-", id)) << id;
      EXPECT_FALSE(Isolation::IsIsolatedPatientId("X.", id)) << id;
    }
  }
  EXPECT_TRUE(Isolation::IsIsolatedPatientId("X.", Isolation::MakePatientId("X.", kUpload, 2, "")));
  // The hospital's own IDs, and look-alikes the rule never makes, are not.
  EXPECT_FALSE(Isolation::IsIsolatedPatientId("INB-", "H1003"));
  EXPECT_FALSE(Isolation::IsIsolatedPatientId("INB-", ""));
  EXPECT_FALSE(Isolation::IsIsolatedPatientId("", "INB-" + kUpload + "-1"));
  EXPECT_FALSE(Isolation::IsIsolatedPatientId("INB-", "INB-" + kUpload));
  EXPECT_FALSE(Isolation::IsIsolatedPatientId("INB-", "INB-" + kUpload + "-"));
  EXPECT_FALSE(Isolation::IsIsolatedPatientId("INB-", "INB-" + kUpload + "-0"));
  EXPECT_FALSE(Isolation::IsIsolatedPatientId("INB-", "INB-" + kUpload + "-01"));
  EXPECT_FALSE(Isolation::IsIsolatedPatientId("INB-", "INB-" + kUpload + "-1x"));
  EXPECT_FALSE(Isolation::IsIsolatedPatientId("INB-", "INB-" + kUpload + "_1"));
  EXPECT_FALSE(Isolation::IsIsolatedPatientId("INB-", "inb-" + kUpload + "-1"));
  EXPECT_FALSE(Isolation::IsIsolatedPatientId("INB-", "INB-ABCDEFGHJKL0-1"));  // not an upload id
  EXPECT_FALSE(Isolation::IsIsolatedPatientId("INB-", "INB-ABCDEFGHJKL-1"));   // 11 characters
  EXPECT_FALSE(Isolation::IsIsolatedPatientId("INB-", " INB-" + kUpload + "-1"));
}
