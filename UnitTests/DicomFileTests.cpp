// Unit tests of the DICOM check and parse of a file on disk: same answers as in memory, bounded memory.
#include "Http/ApiError.h"
#include "MemoryPeak.h"
#include "SummaryText.h"
#include "TestSupport.h"
#include "Toolbox/MappedFile.h"
#include "Upload/DicomInspector.h"

#include <OrthancException.h>

#include <boost/filesystem.hpp>
#include <dcmtk/dcmdata/dcdatset.h>
#include <dcmtk/dcmdata/dcdeftag.h>
#include <dcmtk/dcmdata/dcfilefo.h>
#include <gtest/gtest.h>

#include <fcntl.h>
#include <unistd.h>

#include <fstream>
#include <iterator>

using namespace Inbound;

namespace
{
  class Folder
  {
  public:
    boost::filesystem::path path;

    Folder() :
      path(boost::filesystem::temp_directory_path() / boost::filesystem::unique_path("dicomfile-%%%%%%"))
    {
      boost::filesystem::create_directories(path);
    }

    ~Folder()
    {
      boost::filesystem::remove_all(path);
    }

    std::string Write(const std::string& name, const std::string& content) const
    {
      const std::string file = (path / name).string();
      std::ofstream out(file, std::ios::binary);
      out << content;
      return file;
    }
  };

  DicomGuardLimits Limits()
  {
    DicomGuardLimits limits;
    limits.maxInflatedBytes = 64 * 1024 * 1024;
    return limits;
  }

  // "status/code" of the refusal of "f", "ok" when it passes.
  std::string Outcome(const std::function<void()>& f)
  {
    try
    {
      f();
      return "ok";
    }
    catch (const ApiError& e)
    {
      return std::to_string(e.GetStatus()) + "/" + e.GetCode();
    }
  }

  std::string Describe(const DicomSummary& s)
  {
    return InboundTests::DescribeSummary(s);
  }

  // Checks and parses "content" in memory and from "path" (holding the same bytes), and
  // expects the same answers: refusal, parsed bytes, summary.
  void ExpectSameAsInMemory(const std::string& content, const std::string& path)
  {
    DicomSummary inMemory, onDisk;
    uint64_t memoryBytes = 0, diskBytes = 0;
    const std::string memory = Outcome([&] {
      const CheckedDicom checked = DicomInspector::Check(content.data(), content.size(), Limits());
      memoryBytes = checked.GetParsedBytes();
      DicomInspector::Parse(inMemory, checked);
    });
    const std::string disk = Outcome([&] {
      const CheckedDicomFile checked = DicomInspector::CheckFile(path, Limits());
      EXPECT_EQ(content.size(), checked.GetSize());
      EXPECT_EQ(path, checked.GetPath());
      diskBytes = checked.GetParsedBytes();
      DicomInspector::ParseFile(onDisk, checked);
    });
    EXPECT_EQ(memory, disk) << path;
    EXPECT_EQ(memoryBytes, diskBytes) << path;
    EXPECT_EQ(Describe(inMemory), Describe(onDisk)) << path;
  }

  std::string ReadFile(const std::string& path)
  {
    std::ifstream in(path, std::ios::binary);
    return std::string((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
  }

  std::string Le32(uint32_t v)
  {
    return std::string{char(v & 0xff), char((v >> 8) & 0xff), char((v >> 16) & 0xff),
                       char(v >> 24)};
  }
}

TEST(DicomFile, CheckAndParseOfAFileAnswerAsInMemory)
{
  Folder folder;
  const std::string file = InboundTests::MakeDicom("PID-ÄÖ-1", "1.2.3", "1.2.3.4", "1.2.3.4.5", "MR");
  ExpectSameAsInMemory(file, folder.Write("made.dcm", file));

  DicomSummary summary;
  const CheckedDicomFile checked = DicomInspector::CheckFile(folder.Write("again.dcm", file), Limits());
  std::unique_ptr<Orthanc::ParsedDicomFile> dicom = DicomInspector::ParseFile(summary, checked);
  EXPECT_EQ("1.2.3.4.5", summary.sopInstanceUid);
  EXPECT_EQ("1.2.3", summary.studyInstanceUid);
  EXPECT_EQ("MR", summary.modality);
  // The parse can be written, as ArchiveSink does with it.
  std::string written;
  dicom->SaveToMemoryBuffer(written);
  EXPECT_NE(std::string::npos, written.find("1.2.3.4.5"));
}

TEST(DicomFile, RealFilesOfEveryEncodingAnswerAsInMemory)
{
  // pydicom's test files: implicit, big endian, deflated, encapsulated, truncated, no meta.
  const boost::filesystem::path files("/usr/lib/python3/dist-packages/pydicom/data/test_files");
  size_t tried = 0;
  boost::system::error_code error;
  for (boost::filesystem::directory_iterator it(files, error), end; !error && it != end;
       it.increment(error))
  {
    if (it->path().extension() == ".dcm" && boost::filesystem::file_size(it->path()) < (8 << 20))
    {
      ExpectSameAsInMemory(ReadFile(it->path().string()), it->path().string());
      tried++;
    }
  }
  EXPECT_GT(tried, 50u);  // python3-pydicom is a test dependency (install-dependencies.sh)
}

TEST(DicomFile, HostileFilesAreRefusedAsInMemory)
{
  // The hostile corpus of the fuzzers: nested, lying, deflate bomb, tricky file meta groups.
  Folder folder;
  const boost::filesystem::path corpus =
    boost::filesystem::path(__FILE__).parent_path() / "Fuzzing" / "Corpus" / "DicomInspector";
  size_t refused = 0;
  for (boost::filesystem::directory_iterator it(corpus), end; it != end; ++it)
  {
    const std::string content = ReadFile(it->path().string());
    const std::string path = folder.Write(it->path().filename().string(), content);
    ExpectSameAsInMemory(content, path);
    refused += Outcome([&] { DicomInspector::CheckFile(path, Limits()); }) != "ok" ? 1 : 0;
  }
  EXPECT_GT(refused, 20u);
}

TEST(DicomFile, EmptyMissingAndOtherFiles)
{
  Folder folder;
  EXPECT_EQ("400/not-dicom",
            Outcome([&] { DicomInspector::CheckFile(folder.Write("empty", ""), Limits()); }));
  EXPECT_EQ("400/not-dicom", Outcome([&] {
              DicomInspector::CheckFile(folder.Write("text", std::string(300, 'x')), Limits());
            }));
  try
  {
    DicomInspector::CheckFile((folder.path / "missing").string(), Limits());
    ADD_FAILURE() << "a missing file was checked";
  }
  catch (const Orthanc::OrthancException& e)
  {
    EXPECT_NE(std::string::npos, std::string(e.GetDetails()).find("missing")) << e.GetDetails();
  }
  // A folder is no file.
  EXPECT_THROW(DicomInspector::CheckFile(folder.path.string(), Limits()),
               Orthanc::OrthancException);
}

TEST(MappedFile, MapsWholeFilesReadOnly)
{
  Folder folder;
  const std::string content("\0mapped\xff bytes", 14);
  const MappedFile mapped(folder.Write("m", content));
  EXPECT_EQ(content.size(), mapped.GetSize());
  EXPECT_EQ(content, std::string(static_cast<const char*>(mapped.GetData()), mapped.GetSize()));
  mapped.Release(0, 1000);   // beyond the end: clipped
  mapped.Release(100, 1);    // wholly beyond: nothing
  EXPECT_EQ(content, std::string(static_cast<const char*>(mapped.GetData()), mapped.GetSize()));

  const MappedFile empty(folder.Write("e", ""), MappedFile::Access_Sequential);
  EXPECT_EQ(0u, empty.GetSize());
  EXPECT_NE(nullptr, empty.GetData());

  try
  {
    MappedFile missing((folder.path / "nothing-here").string());
    ADD_FAILURE() << "a missing file was mapped";
  }
  catch (const Orthanc::OrthancException& e)
  {
    EXPECT_NE(std::string::npos, std::string(e.GetDetails()).find("nothing-here")) << e.GetDetails();
    EXPECT_NE(std::string::npos, std::string(e.GetDetails()).find("No such file")) << e.GetDetails();
  }
}

TEST(DicomFile, AGigabyteFileIsCheckedAndParsedInAFewMegabytes)
{
  // A 1 GiB multi-frame file (uncompressed pixel data, sparse on disk): the walk reads its
  // headers, DCMTK leaves the pixel data on disk; the peak memory grows by a few MB, not 1 GiB.
  Folder folder;
  std::string header = InboundTests::MakeDicom("PID-BIG", "1.2.3", "1.2.3.4", "1.2.3.4.6", "XA");
  {
    DicomSummary summary;
    DicomInspector::Parse(summary, DicomInspector::Check(header.data(), header.size(), Limits()));
    ASSERT_EQ("1.2.840.10008.1.2.1", summary.transferSyntax);  // the element below is explicit
  }
  const uint32_t pixelBytes = 1u << 30;
  header += std::string("\xe0\x7f\x10\x00OB\0\0", 8) + Le32(pixelBytes);
  const std::string path = folder.Write("big.dcm", header);
  ASSERT_EQ(0, truncate(path.c_str(), off_t(header.size()) + pixelBytes));
  const int fd = open(path.c_str(), O_WRONLY);
  ASSERT_GE(fd, 0);
  ASSERT_EQ(1, pwrite(fd, "\x2a", 1, off_t(header.size()) + pixelBytes - 1));  // a last byte
  close(fd);

  ASSERT_TRUE(InboundTests::ResetPeakMemory());
  const uint64_t before = InboundTests::ReadStatusKb("VmRSS");
  DicomSummary summary;
  uint64_t size = 0;
  {
    DicomGuardLimits limits = Limits();
    const CheckedDicomFile checked = DicomInspector::CheckFile(path, limits);
    size = checked.GetSize();
    std::unique_ptr<Orthanc::ParsedDicomFile> dicom = DicomInspector::ParseFile(summary, checked);
    // The pixel data is there, read when asked for: its last byte.
    DcmElement* pixels = nullptr;
    ASSERT_TRUE(dicom->GetDcmtkObject().getDataset()->findAndGetElement(DCM_PixelData, pixels).good());
    EXPECT_EQ(pixelBytes, pixels->getLength());
  }
  const uint64_t peak = InboundTests::ReadStatusKb("VmHWM");
  EXPECT_EQ(header.size() + pixelBytes, size);
  EXPECT_EQ("1.2.3.4.6", summary.sopInstanceUid);
  EXPECT_EQ("XA", summary.modality);
  // The measured growth is well under 1 MB (the walk touches a few pages); 32 MB leaves room
  // for allocator noise and still fails if the file were read.
  EXPECT_LT(peak - before, 32u * 1024) << "peak grew by " << (peak - before) << " KB";
  RecordProperty("PeakGrowthKb", std::to_string(peak - before));
}

TEST(DicomFile, OverlongPatientIdsAndUidsAreRefusedBeforeAnyDatabase)
{
  // Keys of the ledger and of Orthanc's index: a PostgreSQL index entry holds ~2.7 KB at most.
  Folder folder;
  const auto outcome = [&](const std::string& patientId, const std::string& sopUid)
  {
    const std::string file = InboundTests::MakeDicom(patientId, "1.2.3", "1.2.3.4", sopUid, "MR");
    return Outcome([&]
                   {
                     DicomSummary summary;
                     const CheckedDicomFile checked =
                       DicomInspector::CheckFile(folder.Write("long.dcm", file), Limits());
                     DicomInspector::ParseFile(summary, checked);
                   });
  };
  EXPECT_EQ("ok", outcome(std::string(1024, '7'), "1.2.3.4.5"));
  EXPECT_EQ("400/invalid-dicom", outcome(std::string(1025, '7'), "1.2.3.4.5"));
  EXPECT_EQ("400/invalid-dicom", outcome(std::string(9000, '7'), "1.2.3.4.5"));
  EXPECT_EQ("ok", outcome("PID", "1.2." + std::string(252, '3')));
  EXPECT_EQ("400/invalid-dicom", outcome("PID", "1.2." + std::string(253, '3')));
}
