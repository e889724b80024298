// Unit tests of the parts of big files on disk: writes, listing, assembly, encryption, removal.
#include "Toolbox/Crypto.h"
#include "Upload/PartStore.h"

#include <OrthancException.h>

#include <boost/filesystem.hpp>

#include <gtest/gtest.h>

#include <fstream>

using namespace Inbound;

namespace
{
  class PartsFolder
  {
  public:
    boost::filesystem::path path;

    PartsFolder() :
      path(boost::filesystem::temp_directory_path() / boost::filesystem::unique_path("parts-%%%%%%"))
    {
    }

    ~PartsFolder()
    {
      boost::filesystem::remove_all(path);
    }
  };

  std::string MakeBytes(size_t size, unsigned int seed)
  {
    std::string bytes(size, '\0');
    for (size_t i = 0; i < size; i++)
    {
      bytes[i] = static_cast<char>((i * 131 + seed * 7 + (i >> 8)) & 0xff);
    }
    return bytes;
  }

  std::string ReadAll(const std::string& path)
  {
    std::ifstream in(path, std::ios::binary);
    return std::string(std::istreambuf_iterator<char>(in), std::istreambuf_iterator<char>());
  }

  void WriteRaw(const boost::filesystem::path& path, const std::string& bytes)
  {
    std::ofstream out(path.string(), std::ios::binary | std::ios::trunc);
    out.write(bytes.data(), bytes.size());
  }

  const std::string kSha(64, 'a');

  // A file of 2.5 parts of 1000 bytes, written into "parts" in a shuffled order.
  std::string WriteFile(PartStore& parts, const std::string& upload)
  {
    const std::string file = MakeBytes(2500, 1);
    const std::string sha = Crypto::Sha256Hex(file);
    EXPECT_TRUE(parts.Write(upload, sha, 2, file.data() + 2000, 500));
    EXPECT_TRUE(parts.Write(upload, sha, 0, file.data(), 1000));
    EXPECT_TRUE(parts.Write(upload, sha, 1, file.data() + 1000, 1000));
    return file;
  }
}

TEST(PartStore, AssemblesTheFileFromItsPartsByteForByte)
{
  for (bool encrypted : {false, true})
  {
    PartsFolder folder;
    PartStore parts(folder.path.string(), encrypted);
    EXPECT_EQ(encrypted, parts.IsEncrypted());
    const std::string file = WriteFile(parts, "UP1");
    const std::string sha = Crypto::Sha256Hex(file);

    EXPECT_EQ(2500u, parts.GetPendingBytes("UP1"));
    const std::vector<PartStore::FileParts> listed = parts.List("UP1");
    ASSERT_EQ(1u, listed.size());
    EXPECT_EQ(sha, listed[0].sha256);
    EXPECT_EQ((std::vector<uint32_t>{0, 1, 2}), listed[0].parts);
    EXPECT_EQ(2500u, listed[0].bytes);

    const PartStore::Assembly assembly = parts.Assemble("UP1", sha, 3, 1000, 1 << 20);
    ASSERT_EQ(PartStore::AssembleOutcome_Assembled, assembly.outcome) << assembly.problem;
    EXPECT_EQ(sha, assembly.sha256);
    EXPECT_EQ(2500u, assembly.size);
    EXPECT_EQ(file, ReadAll(assembly.path));
    // No temporary file left beside the parts and the assembled file.
    EXPECT_EQ(4, std::distance(boost::filesystem::directory_iterator(folder.path / "UP1" / sha),
                               boost::filesystem::directory_iterator()));

    parts.RemoveFile("UP1", sha);
    EXPECT_FALSE(boost::filesystem::exists(assembly.path));
    EXPECT_TRUE(parts.List("UP1").empty());
    EXPECT_EQ(0u, parts.GetPendingBytes("UP1"));
  }
}

TEST(PartStore, EncryptedPartsHoldNoPlainTextAndDieWithTheProcess)
{
  PartsFolder folder;
  const std::string secret = "PATIENT^SECRET^NAME" + std::string(500, 'x');
  const std::string sha = Crypto::Sha256Hex(secret);
  {
    PartStore parts(folder.path.string(), true);
    ASSERT_TRUE(parts.Write("UP1", sha, 0, secret.data(), secret.size()));
    const std::string stored = ReadAll((folder.path / "UP1" / sha / "0").string());
    EXPECT_EQ(secret.size() + 28, stored.size());  // nonce, ciphertext, tag
    EXPECT_EQ(std::string::npos, stored.find("PATIENT"));
    EXPECT_TRUE(parts.Holds("UP1", sha, 0, secret.data(), secret.size()));
    EXPECT_FALSE(parts.Write("UP1", sha, 0, secret.data(), secret.size()));  // same bytes again
  }
  // A new process (a new key): the parts of the last one are deleted at start.
  PartStore again(folder.path.string(), true);
  EXPECT_FALSE(boost::filesystem::exists(folder.path / "UP1"));
  EXPECT_TRUE(again.List("UP1").empty());

  // A plain store keeps its parts across restarts.
  {
    PartStore plain(folder.path.string(), false);
    ASSERT_TRUE(plain.Write("UP2", sha, 0, secret.data(), secret.size()));
  }
  PartStore plainAgain(folder.path.string(), false);
  EXPECT_EQ(secret.size(), plainAgain.GetPendingBytes("UP2"));
  EXPECT_EQ(secret, ReadAll((folder.path / "UP2" / sha / "0").string()));
}

TEST(PartStore, AChangedOrMovedEncryptedPartIsUnreadable)
{
  PartsFolder folder;
  PartStore parts(folder.path.string(), true);
  const std::string file = WriteFile(parts, "UP1");
  const std::string sha = Crypto::Sha256Hex(file);
  const boost::filesystem::path one = folder.path / "UP1" / sha / "1";

  // One bit changed in the ciphertext.
  std::string sealed = ReadAll(one.string());
  sealed[20] ^= 1;
  WriteRaw(one, sealed);
  PartStore::Assembly assembly = parts.Assemble("UP1", sha, 3, 1000, 1 << 20);
  EXPECT_EQ(PartStore::AssembleOutcome_Unreadable, assembly.outcome);
  EXPECT_TRUE(assembly.path.empty());
  EXPECT_FALSE(boost::filesystem::exists(folder.path / "UP1" / sha / "assembled"));

  // Part 0 copied over part 1 (same size, other place): its associated data differs.
  boost::filesystem::copy_file(folder.path / "UP1" / sha / "0", one,
                               boost::filesystem::copy_option::overwrite_if_exists);
  assembly = parts.Assemble("UP1", sha, 3, 1000, 1 << 20);
  EXPECT_EQ(PartStore::AssembleOutcome_Unreadable, assembly.outcome);
}

TEST(PartStore, MissingPartsAreListedWithoutCopyingAnything)
{
  PartsFolder folder;
  PartStore parts(folder.path.string(), false);
  const std::string file = MakeBytes(1000, 2);
  const std::string sha = Crypto::Sha256Hex(file);
  ASSERT_TRUE(parts.Write("UP1", sha, 1, file.data(), 1000));

  PartStore::Assembly assembly = parts.Assemble("UP1", sha, 4, 1000, 1 << 20);
  EXPECT_EQ(PartStore::AssembleOutcome_Missing, assembly.outcome);
  EXPECT_EQ((std::vector<uint32_t>{0, 2, 3}), assembly.missing);
  EXPECT_TRUE(assembly.path.empty());
  EXPECT_FALSE(boost::filesystem::exists(folder.path / "UP1" / sha / "assembled"));

  // At most 100 listed.
  assembly = parts.Assemble("UP1", sha, 1000, 1000, 1 << 30);
  EXPECT_EQ(PartStore::AssembleOutcome_Missing, assembly.outcome);
  EXPECT_EQ(100u, assembly.missing.size());
  EXPECT_EQ(0u, assembly.missing.front());
  EXPECT_EQ(100u, assembly.missing.back());  // 0, then 2 to 100: part 1 is here
}

TEST(PartStore, WrongPartSizesAndTooLargeFilesAreRefused)
{
  PartsFolder folder;
  PartStore parts(folder.path.string(), false);
  const std::string a = MakeBytes(999, 3);
  const std::string b = MakeBytes(1000, 4);
  // A part other than the last shorter than the part size.
  ASSERT_TRUE(parts.Write("UP1", kSha, 0, a.data(), a.size()));
  ASSERT_TRUE(parts.Write("UP1", kSha, 1, b.data(), b.size()));
  PartStore::Assembly assembly = parts.Assemble("UP1", kSha, 2, 1000, 1 << 20);
  EXPECT_EQ(PartStore::AssembleOutcome_BadSize, assembly.outcome);
  EXPECT_NE(std::string::npos, assembly.problem.find("part 0 has 999 bytes"));

  // The last part longer than the part size.
  ASSERT_TRUE(parts.Write("UP1", kSha, 0, b.data(), b.size()));  // replaced
  EXPECT_EQ(2000u, parts.GetPendingBytes("UP1"));
  assembly = parts.Assemble("UP1", kSha, 2, 999, 1 << 20);
  EXPECT_EQ(PartStore::AssembleOutcome_BadSize, assembly.outcome);

  // Right sizes, more than the largest file.
  assembly = parts.Assemble("UP1", kSha, 2, 1000, 1999);
  EXPECT_EQ(PartStore::AssembleOutcome_TooLarge, assembly.outcome);
  EXPECT_EQ(2000u, assembly.size);

  // A hash that is not the file's: assembled all the same, the caller compares.
  assembly = parts.Assemble("UP1", kSha, 2, 1000, 2000);
  ASSERT_EQ(PartStore::AssembleOutcome_Assembled, assembly.outcome);
  EXPECT_NE(kSha, assembly.sha256);
  EXPECT_EQ(Crypto::Sha256Hex(b + b), assembly.sha256);
}

TEST(PartStore, RemovalWithTheUploadAndNamesThatLeaveTheFolderAreRefused)
{
  PartsFolder folder;
  PartStore parts(folder.path.string(), false);
  WriteFile(parts, "UP1");
  WriteFile(parts, "UP2");
  const std::string other = MakeBytes(10, 9);
  ASSERT_TRUE(parts.Write("UP1", kSha, 0, other.data(), other.size()));
  EXPECT_EQ(2510u, parts.GetPendingBytes("UP1"));
  EXPECT_EQ(2u, parts.List("UP1").size());

  std::vector<std::string> uploads = parts.ListUploads();
  std::sort(uploads.begin(), uploads.end());
  EXPECT_EQ((std::vector<std::string>{"UP1", "UP2"}), uploads);

  parts.RemoveUpload("UP1");
  EXPECT_FALSE(boost::filesystem::exists(folder.path / "UP1"));
  EXPECT_EQ(0u, parts.GetPendingBytes("UP1"));
  EXPECT_EQ(2500u, parts.GetPendingBytes("UP2"));
  parts.RemoveUpload("UP1");  // gone already: no error
  parts.RemoveFile("UP1", kSha);

  for (const std::string& bad : {std::string("../UP2"), std::string(""), std::string("a/b"),
                                 std::string(".."), std::string(65, 'a')})
  {
    EXPECT_THROW(parts.Write(bad, kSha, 0, other.data(), other.size()), Orthanc::OrthancException);
    EXPECT_THROW(parts.Write("UP3", bad, 0, other.data(), other.size()), Orthanc::OrthancException);
    EXPECT_THROW(parts.RemoveUpload(bad), Orthanc::OrthancException);
  }
  EXPECT_EQ(2500u, parts.GetPendingBytes("UP2"));
}

TEST(PartStore, PlainAssembledFilesOfASealingGatewayAreOverwrittenBeforeRemoval)
{
  // A hard link outside the folder shows what the removed file's blocks held afterwards.
  PartsFolder folder;
  const std::string secret = "PATIENT^SECRET" + std::string(3000, 'x');
  const std::string sha = Crypto::Sha256Hex(secret);
  const boost::filesystem::path witness = folder.path.string() + "-witness";
  {
    PartStore parts(folder.path.string(), true);
    ASSERT_TRUE(parts.Write("UP1", sha, 0, secret.data(), secret.size()));
    const PartStore::Assembly assembly = parts.Assemble("UP1", sha, 1, 4096, 1 << 20);
    ASSERT_EQ(PartStore::AssembleOutcome_Assembled, assembly.outcome);
    boost::filesystem::create_hard_link(assembly.path, witness);
    parts.RemoveAssembled(assembly);  // a refusal for now (503): the parts stay
    EXPECT_FALSE(boost::filesystem::exists(assembly.path));
    EXPECT_EQ(std::string(secret.size(), '\0'), ReadAll(witness.string()));
    EXPECT_EQ(1u, parts.List("UP1").size());
    boost::filesystem::remove(witness);

    // One left by a crash: overwritten when the next process starts.
    const PartStore::Assembly left = parts.Assemble("UP1", sha, 1, 4096, 1 << 20);
    boost::filesystem::create_hard_link(left.path, witness);
  }
  PartStore restarted(folder.path.string(), true);
  EXPECT_EQ(std::string(secret.size(), '\0'), ReadAll(witness.string()));
  boost::filesystem::remove(witness);
}
