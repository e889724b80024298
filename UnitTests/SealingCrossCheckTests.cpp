// Envelopes exchanged with an independent implementation (IntegrationTests/sealing.py, Python).
#include "Toolbox/Crypto.h"
#include "Toolbox/Sealing.h"

#include <boost/filesystem.hpp>
#include <gtest/gtest.h>

#include <cstdlib>
#include <fstream>

using namespace Inbound;
namespace fs = boost::filesystem;

// IntegrationTests/test_sealing_format.py runs this test with INBOUND_SEALING_CROSSCHECK_DIR
// set to a folder where Python has put a key pair and envelopes under "python/": each
// "<name>.envelope" with its "<name>.context" and, if it must open, its "<name>.plaintext".
// The test opens them (and records what it opened in "python-opened"), then seals its own
// under "cpp/" for Python to open. Run alone, it checks its own envelopes the same way.
namespace
{
  std::string ReadFile(const fs::path& path)
  {
    std::ifstream in(path.string(), std::ios::binary);
    EXPECT_TRUE(in.good()) << path;
    return std::string(std::istreambuf_iterator<char>(in), std::istreambuf_iterator<char>());
  }

  void WriteFile(const fs::path& path, const std::string& content)
  {
    std::ofstream out(path.string(), std::ios::binary | std::ios::trunc);
    out << content;
    ASSERT_TRUE(out.good()) << path;
  }

  // Opens every envelope of "folder" as its files say; returns how many opened.
  size_t CheckFolder(const fs::path& folder)
  {
    const SealingPrivateKey key = SealingPrivateKey::Load((folder / "private.pem").string());
    EXPECT_EQ(key.GetId(),
              SealingPublicKey::FromPem(ReadFile(folder / "public.pem"), "public.pem").GetId());
    size_t opened = 0;
    for (const fs::directory_entry& entry : fs::directory_iterator(folder))
    {
      const fs::path path = entry.path();
      if (path.extension() != ".envelope")
      {
        continue;
      }
      const std::string envelope = ReadFile(path);
      fs::path plain = path;
      plain.replace_extension(".plaintext");
      fs::path context = path;
      context.replace_extension(".context");
      std::string plaintext, error;
      const bool ok =
          Sealing::Open(plaintext, error, key, envelope.data(), envelope.size(), ReadFile(context));
      if (fs::exists(plain))
      {
        EXPECT_TRUE(ok) << path << ": " << error;
        EXPECT_TRUE(plaintext == ReadFile(plain)) << path;
        opened += ok ? 1 : 0;
      }
      else
      {
        EXPECT_FALSE(ok) << path << " must not open";
        EXPECT_TRUE(plaintext.empty());
      }
    }
    return opened;
  }
}

TEST(SealingCrossCheck, OpensPythonEnvelopesAndSealsForPython)
{
  const char* given = getenv("INBOUND_SEALING_CROSSCHECK_DIR");
  const fs::path root = given != nullptr
                            ? fs::path(given)
                            : fs::temp_directory_path() / fs::unique_path("seal-%%%%%%%%");
  fs::create_directories(root);

  if (fs::is_directory(root / "python"))
  {
    const size_t opened = CheckFolder(root / "python");
    EXPECT_GT(opened, 0u);
    WriteFile(root / "python-opened", std::to_string(opened));
  }

  const fs::path cpp = root / "cpp";
  fs::create_directories(cpp);
  const SealingPrivateKey key = SealingPrivateKey::LoadOrCreate((cpp / "private.pem").string());
  WriteFile(cpp / "public.pem", key.GetPublicKey().GetPem());
  WriteFile(cpp / "key-id", key.GetId());
  const std::string sha = Crypto::Sha256Hex("x");
  const std::vector<std::pair<std::string, std::string>> cases = {
      {"", "item:UPLOAD1:" + Crypto::Sha256Hex("")},
      {"x", "item:UPLOAD1:" + sha},
      {Crypto::RandomBytes(100000), "item:UPLOAD2:" + sha},
      {"{\"name\":\"M\xc3\xbcller\"}", "fields:UPLOAD1"},
      {"context with bytes", std::string("\xc3\xa9\0\xff", 4)},
  };
  for (size_t i = 0; i < cases.size(); i++)
  {
    const std::string name = "case" + std::to_string(i);
    WriteFile(cpp / (name + ".envelope"),
              Sealing::Seal(key.GetPublicKey(), cases[i].first, cases[i].second));
    WriteFile(cpp / (name + ".context"), cases[i].second);
    WriteFile(cpp / (name + ".plaintext"), cases[i].first);
  }
  // one that must not open: sealed for another context
  WriteFile(cpp / "other-context.envelope", Sealing::Seal(key.GetPublicKey(), "x", "fields:A"));
  WriteFile(cpp / "other-context.context", "fields:B");
  EXPECT_EQ(cases.size(), CheckFolder(cpp));

  if (given == nullptr)
  {
    fs::remove_all(root);
  }
}
