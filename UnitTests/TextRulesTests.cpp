// Unit tests of the sender-text rules: clean UTF-8, e-mail syntax, truncation.
#include "Upload/TextRules.h"

#include <gtest/gtest.h>

using namespace Inbound;

TEST(TextRules, CleanText)
{
  EXPECT_TRUE(TextRules::IsCleanText("Dr. Müller, Universitätsklinikum"));
  EXPECT_TRUE(TextRules::IsCleanText(""));
  EXPECT_FALSE(TextRules::IsCleanText("name\r\nBcc: victim@example.org"));
  EXPECT_FALSE(TextRules::IsCleanText("tab\there"));
  EXPECT_FALSE(TextRules::IsCleanText(std::string("nul\0byte", 8)));
  EXPECT_FALSE(TextRules::IsCleanText("\x7f"));
  EXPECT_FALSE(TextRules::IsCleanText("\xc2\x85"));      // NEL (C1)
  EXPECT_FALSE(TextRules::IsCleanText("\xe2\x80\xa8"));  // line separator
  EXPECT_FALSE(TextRules::IsCleanText("\xff\xfe"));      // not UTF-8
  EXPECT_FALSE(TextRules::IsCleanText("\xc3"));          // truncated sequence
}

TEST(TextRules, Email)
{
  EXPECT_TRUE(TextRules::IsEmailAddress("a@example.org"));
  EXPECT_TRUE(TextRules::IsEmailAddress("first.last+tag@sub.example.co.uk"));
  EXPECT_FALSE(TextRules::IsEmailAddress("a@example"));
  EXPECT_FALSE(TextRules::IsEmailAddress("a@@example.org"));
  EXPECT_FALSE(TextRules::IsEmailAddress(".a@example.org"));
  EXPECT_FALSE(TextRules::IsEmailAddress("a..b@example.org"));
  EXPECT_FALSE(TextRules::IsEmailAddress("a b@example.org"));
  EXPECT_FALSE(TextRules::IsEmailAddress("a@example.org\r\nBcc: x@y.org"));
  EXPECT_FALSE(TextRules::IsEmailAddress("a@-example.org"));
  EXPECT_FALSE(TextRules::IsEmailAddress(std::string(65, 'a') + "@example.org"));
}

TEST(TextRules, TruncateNeverCutsACharacter)
{
  EXPECT_EQ("abc", TextRules::Truncate("abcdef", 3));
  EXPECT_EQ("Mü", TextRules::Truncate("Müller", 2));
  EXPECT_EQ("short", TextRules::Truncate("short", 64));
  EXPECT_EQ(6u, TextRules::CountCharacters("Müller"));
}
