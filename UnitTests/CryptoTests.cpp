// Unit tests of the crypto helpers: SHA-256 vectors, readable codes, tokens, constant-time compare.
#include "Toolbox/Crypto.h"

#include <gtest/gtest.h>

#include <atomic>
#include <memory>
#include <set>
#include <thread>
#include <vector>

using namespace Inbound;

TEST(Crypto, Sha256OfKnownVectors)
{
  EXPECT_EQ("e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855", Crypto::Sha256Hex(""));
  EXPECT_EQ("ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad", Crypto::Sha256Hex("abc"));
}

TEST(Crypto, Sha256StreamGivesTheDigestOfTheWholeWhateverTheCuts)
{
  const std::string data = "The quick brown fox jumps over the lazy dog, piece by piece";
  for (size_t cut = 0; cut <= data.size(); cut += 7)
  {
    Crypto::Sha256Stream stream;
    stream.Update(data.data(), cut);
    stream.Update(data.data() + cut, 0);
    stream.Update(data.data() + cut, data.size() - cut);
    EXPECT_EQ(Crypto::Sha256Hex(data), stream.FinishHex());
  }
  Crypto::Sha256Stream stream;
  EXPECT_EQ(Crypto::Sha256Hex(""), stream.FinishHex());
  stream.Update("abc", 3);  // starts again after FinishHex
  EXPECT_EQ("ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad", stream.FinishHex());
}

TEST(Crypto, Sha256TaskGivesTheDigestOnAHelperOrInline)
{
  // Small (inline), large (a helper while one is free), several at once (some inline).
  std::vector<std::string> bodies;
  bodies.push_back("");
  bodies.push_back("abc");
  for (size_t i = 0; i < 6; i++)
  {
    bodies.push_back(std::string(300 * 1024 + i, static_cast<char>('a' + i)));
  }
  std::vector<std::unique_ptr<Crypto::Sha256Task>> tasks;
  for (const std::string& body : bodies)
  {
    tasks.emplace_back(new Crypto::Sha256Task(body.data(), body.size()));
  }
  for (size_t i = 0; i < bodies.size(); i++)
  {
    EXPECT_EQ(Crypto::Sha256Hex(bodies[i]), tasks[i]->Get());
    EXPECT_EQ(Crypto::Sha256Hex(bodies[i]), tasks[i]->Get());  // again: the same
    EXPECT_TRUE(tasks[i]->Matches(Crypto::Sha256Hex(bodies[i])));
    EXPECT_FALSE(tasks[i]->Matches(Crypto::Sha256Hex(bodies[i] + "x")));
  }
  {
    // Destroyed unread (an early error of the caller): waits for its helper, no crash.
    Crypto::Sha256Task unread(bodies.back().data(), bodies.back().size());
  }
  Crypto::Sha256Task later(bodies.back().data(), bodies.back().size());
  EXPECT_EQ(Crypto::Sha256Hex(bodies.back()), later.Get());  // helpers were given back
}

TEST(Crypto, Sha256TasksFromManyThreadsEachGetTheirOwnDigest)
{
  // Callers racing for the helpers: each task is hashed once, by a helper or taken back by
  // its caller, whether it is read at once, late, or never.
  std::vector<std::string> bodies;
  for (size_t i = 0; i < 8; i++)
  {
    bodies.push_back(std::string(200 * 1024 + 13 * i, static_cast<char>('A' + i)));
  }
  std::vector<std::string> expected;
  for (const std::string& body : bodies)
  {
    expected.push_back(Crypto::Sha256Hex(body));
  }
  std::vector<std::thread> callers;
  std::atomic<int> wrong(0);
  for (size_t t = 0; t < 4; t++)
  {
    callers.emplace_back([&, t] {
      for (size_t round = 0; round < 50; round++)
      {
        const size_t i = (t + round) % bodies.size();
        Crypto::Sha256Task task(bodies[i].data(), bodies[i].size());
        if (round % 5 == 4)
        {
          continue;  // destroyed unread
        }
        if (round % 2 == 1)
        {
          std::this_thread::yield();  // read later: a helper may have it by then
        }
        if (task.Get() != expected[i])
        {
          wrong++;
        }
      }
    });
  }
  for (std::thread& caller : callers)
  {
    caller.join();
  }
  EXPECT_EQ(0, wrong.load());
}

TEST(Crypto, IsSha256Hex)
{
  EXPECT_TRUE(Crypto::IsSha256Hex(Crypto::Sha256Hex("x")));
  EXPECT_FALSE(Crypto::IsSha256Hex("E3B0C44298FC1C149AFBF4C8996FB92427AE41E4649B934CA495991B7852B855"));
  EXPECT_FALSE(Crypto::IsSha256Hex("abc"));
  EXPECT_FALSE(Crypto::IsSha256Hex(std::string(63, 'a') + "g"));
}

TEST(Crypto, RandomCodesAreReadableAndDistinct)
{
  std::set<std::string> seen;
  for (int i = 0; i < 1000; i++)
  {
    const std::string code = Crypto::RandomCode(12);
    ASSERT_EQ(12u, code.size());
    EXPECT_EQ(std::string::npos, code.find_first_of("01IO"));
    EXPECT_EQ(std::string::npos, code.find_first_not_of("23456789ABCDEFGHJKLMNPQRSTUVWXYZ"));
    seen.insert(code);
  }
  EXPECT_EQ(1000u, seen.size());
}

TEST(Crypto, TokensAreUrlSafeAndLong)
{
  const std::string a = Crypto::RandomToken();
  EXPECT_EQ(43u, a.size());
  EXPECT_EQ(std::string::npos, a.find_first_of("+/="));
  EXPECT_NE(a, Crypto::RandomToken());
}

TEST(Crypto, ConstantTimeEquals)
{
  EXPECT_TRUE(Crypto::ConstantTimeEquals("secret", "secret"));
  EXPECT_FALSE(Crypto::ConstantTimeEquals("secret", "secreT"));
  EXPECT_FALSE(Crypto::ConstantTimeEquals("secret", "secret2"));
  EXPECT_TRUE(Crypto::ConstantTimeEquals("", ""));
}
