// Unit tests of e-mail composition: clean text, encoded and folded headers, mailbox parsing.
// Over 500 lines: the tests of one feature, e-mail composition, rule by rule of RFC 5322 and 2047.
#include <OrthancFramework.h> // first: it defines what the framework headers test

#include "Notify/MailMessage.h"

#include <Toolbox.h>

#include <boost/algorithm/string/find_iterator.hpp>
#include <boost/algorithm/string/finder.hpp>
#include <boost/algorithm/string/split.hpp>

#include <gtest/gtest.h>

#include <stdexcept>

using namespace Inbound;

namespace
{
  const std::string kBoundary = "=_test_boundary";

  // Strict UTF-8 (no overlong forms, no surrogates, nothing above U+10FFFF), written here so
  // that the tests do not trust the decoder the code under test uses.
  bool IsValidUtf8(const std::string& s)
  {
    size_t i = 0;
    while (i < s.size())
    {
      const unsigned char c = static_cast<unsigned char>(s[i]);
      size_t length;
      uint32_t cp;
      if (c < 0x80)
      {
        i++;
        continue;
      }
      else if ((c & 0xe0) == 0xc0)
      {
        length = 2;
        cp = c & 0x1f;
      }
      else if ((c & 0xf0) == 0xe0)
      {
        length = 3;
        cp = c & 0x0f;
      }
      else if ((c & 0xf8) == 0xf0)
      {
        length = 4;
        cp = c & 0x07;
      }
      else
      {
        return false;
      }
      if (i + length > s.size())
      {
        return false;
      }
      for (size_t k = 1; k < length; k++)
      {
        const unsigned char d = static_cast<unsigned char>(s[i + k]);
        if ((d & 0xc0) != 0x80)
        {
          return false;
        }
        cp = (cp << 6) | (d & 0x3f);
      }
      const uint32_t minimum = length == 2 ? 0x80 : length == 3 ? 0x800 : 0x10000;
      if (cp < minimum || cp > 0x10ffff || (cp >= 0xd800 && cp <= 0xdfff))
      {
        return false;
      }
      i += length;
    }
    return true;
  }

  std::vector<std::string> SplitCrLf(const std::string& text)
  {
    std::vector<std::string> lines;
    boost::algorithm::iter_split(lines, text, boost::algorithm::first_finder("\r\n"));
    return lines;
  }

  bool HasBareLineBreak(const std::string& text)
  {
    for (size_t i = 0; i < text.size(); i++)
    {
      if (text[i] == '\n' && (i == 0 || text[i - 1] != '\r'))
      {
        return true;
      }
      if (text[i] == '\r' && (i + 1 == text.size() || text[i + 1] != '\n'))
      {
        return true;
      }
    }
    return false;
  }

  std::string DecodeBase64(const std::string& text)
  {
    std::string result;
    Orthanc::Toolbox::DecodeBase64(result, text);
    return result;
  }

  bool IsEncodedWord(const std::string& token)
  {
    return token.size() >= 12 && token.compare(0, 10, "=?UTF-8?B?") == 0 &&
           token.compare(token.size() - 2, 2, "?=") == 0;
  }

  // The encoded words after "Name:" in "header" (folded or not), each decoded. A token that
  // is not an encoded word comes back as "<plain:...>", so that the comparison fails.
  std::vector<std::string> DecodeWords(const std::string& header)
  {
    const size_t colon = header.find(':');
    std::string rest = header.substr(colon + 1);
    std::vector<std::string> words;
    std::string token;
    for (size_t i = 0; i <= rest.size(); i++)
    {
      if (i == rest.size() || rest[i] == ' ' || rest[i] == '\r' || rest[i] == '\n')
      {
        if (!token.empty())
        {
          words.push_back(IsEncodedWord(token) ? DecodeBase64(token.substr(10, token.size() - 12))
                                               : "<plain:" + token + ">");
          token.clear();
        }
      }
      else
      {
        token += rest[i];
      }
    }
    return words;
  }

  std::string DecodeHeader(const std::string& header)
  {
    std::string result;
    for (const std::string& w : DecodeWords(header))
    {
      result += w;
    }
    return result;
  }

  size_t LongestLine(const std::string& text)
  {
    size_t longest = 0;
    for (const std::string& line : SplitCrLf(text))
    {
      longest = std::max(longest, line.size());
    }
    return longest;
  }

  // The header block of a composed message, one entry per header with its continuation
  // lines joined by CRLF (as they appear on the wire).
  std::vector<std::string> Headers(const std::string& message)
  {
    const size_t end = message.find("\r\n\r\n");
    std::vector<std::string> headers;
    for (const std::string& line : SplitCrLf(message.substr(0, end)))
    {
      if (!line.empty() && line[0] == ' ' && !headers.empty())
      {
        headers.back() += "\r\n" + line;
      }
      else
      {
        headers.push_back(line);
      }
    }
    return headers;
  }

  size_t CountHeaders(const std::vector<std::string>& headers, const std::string& name)
  {
    size_t count = 0;
    for (const std::string& h : headers)
    {
      count += h.compare(0, name.size() + 1, name + ":") == 0 ? 1 : 0;
    }
    return count;
  }

  std::string FindHeader(const std::vector<std::string>& headers, const std::string& name)
  {
    for (const std::string& h : headers)
    {
      if (h.compare(0, name.size() + 1, name + ":") == 0)
      {
        return h;
      }
    }
    return "";
  }

  // The decoded body of the part of this content type.
  std::string DecodePart(const std::string& message, const std::string& type)
  {
    const std::string marker =
        "Content-Type: " + type + "; charset=UTF-8\r\nContent-Transfer-Encoding: base64\r\n\r\n";
    const size_t start = message.find(marker);
    if (start == std::string::npos)
    {
      return "<no " + type + " part>";
    }
    const size_t end = message.find("--" + kBoundary, start);
    std::string base64;
    for (size_t i = start + marker.size(); i < end; i++)
    {
      if (message[i] != '\r' && message[i] != '\n')
      {
        base64 += message[i];
      }
    }
    return DecodeBase64(base64);
  }

  MailContent MakeContent()
  {
    MailContent c;
    c.from = MailAddress{"Orthanc Inbound", "inbound@hospital.example"};
    c.to.push_back(MailAddress{"Neuroradiology", "neuro@hospital.example"});
    c.subject = "New images";
    c.text = "Hello\nSecond line\n";
    c.html = "<p>Hello</p>\n<p>Second</p>";
    c.messageId = "inbound.0123abcd@hospital.example";
    c.dateMs = 1795437296000;
    return c;
  }
} // namespace

TEST(MailAddress, ParsesABareAddress)
{
  MailAddress a;
  ASSERT_TRUE(MailAddress::Parse(a, "a@b.example"));
  EXPECT_EQ("a@b.example", a.address);
  EXPECT_EQ("", a.name);
  EXPECT_EQ("b.example", a.GetDomain());
}

TEST(MailAddress, ParsesANameAndAnAddress)
{
  MailAddress a;
  ASSERT_TRUE(MailAddress::Parse(a, "Name <a@b.example>"));
  EXPECT_EQ("a@b.example", a.address);
  EXPECT_EQ("Name", a.name); // without the space before "<"
}

TEST(MailAddress, ParsesAQuotedNameWithAComma)
{
  MailAddress a;
  ASSERT_TRUE(MailAddress::Parse(a, "\"Quoted, Name\" <a@b.example>"));
  EXPECT_EQ("Quoted, Name", a.name);
  EXPECT_EQ("a@b.example", a.address);
}

TEST(MailAddress, ToleratesSpacesAroundABareAddress)
{
  MailAddress a;
  ASSERT_TRUE(MailAddress::Parse(a, "  a@b.example "));
  EXPECT_EQ("a@b.example", a.address);
}

TEST(MailAddress, ParsesANonAsciiName)
{
  MailAddress a;
  ASSERT_TRUE(MailAddress::Parse(a, "J\xc3\xbcrgen <j@b.example>"));
  EXPECT_EQ("j@b.example", a.address);
  EXPECT_EQ(0u, a.name.find("J\xc3\xbcrgen"));
}

TEST(MailAddress, RefusesLineBreaksAnywhere)
{
  MailAddress a;
  for (const char* text : {"a@b.example\r\nBcc: c@d.example", "a@b.example\n", "\ra@b.example",
                           "Na\nme <a@b.example>", "Name <a@b.exa\r\nmple>",
                           "Name <a@b.example>\r\n", "a@b.example\t", "Name\x7f <a@b.example>"})
  {
    EXPECT_FALSE(MailAddress::Parse(a, text)) << text;
  }
}

TEST(MailAddress, RefusesWhatIsNotAMailbox)
{
  MailAddress a;
  for (const char* text : {"",
                           "no-at.example",
                           "a b@c.example",
                           "a@b c.example",
                           "<a@b.example> junk",
                           "Name <a@b.example>junk",
                           "Name <a@b.example",
                           "Name a@b.example>",
                           "Name <>",
                           "A <a@b.example> <c@d.example>",
                           "\"Na\"me\" <a@b.example>",
                           "a@b",
                           "a@-b.example",
                           "a..b@c.example",
                           ".a@b.example",
                           "a@b..example",
                           "\xc3\xa4@b.example",
                           "a@b\xc3\xa4.example",
                           "Name <\xc3\xa4@b.example>",
                           "a@b.example@c.example"})
  {
    EXPECT_FALSE(MailAddress::Parse(a, text)) << text;
  }
  EXPECT_FALSE(MailAddress::IsValidAddress(std::string(250, 'a') + "@b.example"));
}

TEST(MailMessage, CleanTextDropsInvalidUtf8AndBlanksControlCharacters)
{
  EXPECT_EQ("ab", Mail::CleanText("a\xff"
                                  "b",
                                  false));
  EXPECT_EQ("ab", Mail::CleanText("a\xc0\xaf"
                                  "b",
                                  false)); // overlong "/"
  EXPECT_EQ("ab", Mail::CleanText("a\xed\xa0\x80"
                                  "b",
                                  false)); // surrogate
  EXPECT_EQ("ab", Mail::CleanText("a\xf4\x90\x80\x80"
                                  "b",
                                  false));             // above U+10FFFF
  EXPECT_EQ("a", Mail::CleanText("a\xe2\x82", false)); // truncated
  const std::string valid = "Gr\xc3\xbc\xc3\x9f"
                            "e \xe2\x82\xac \xf0\x9f\x98\x80";
  EXPECT_EQ(valid, Mail::CleanText(valid, false));
  EXPECT_EQ("a b c d", Mail::CleanText("a\rb\nc\x01"
                                       "d",
                                       false));
  EXPECT_EQ("a\nb\tc d e", Mail::CleanText("a\nb\tc\rd\x7f"
                                           "e",
                                           true));
  for (const std::string& s :
       {std::string("\xff\xfe"), std::string("x\xe0\x80\x80"), std::string("\xf8\x88\x80\x80\x80")})
  {
    EXPECT_TRUE(IsValidUtf8(Mail::CleanText(s, true)));
  }
}

TEST(MailMessage, CleanTextBlanksC1ControlCharacters)
{
  // U+0085 (NEL) and U+009B (CSI) are control characters too: some clients break lines at
  // NEL, terminals interpret CSI.
  EXPECT_EQ("a b c", Mail::CleanText("a\xc2\x85"
                                     "b\xc2\x9b"
                                     "c",
                                     false));
}

TEST(MailMessage, ShortAsciiHeaderStaysPlain)
{
  EXPECT_EQ("Subject: [Test Hospital] New images from Dr. A",
            Mail::EncodeUnstructuredHeader("Subject", "[Test Hospital] New images from Dr. A"));
  EXPECT_EQ("Subject: ", Mail::EncodeUnstructuredHeader("Subject", ""));
}

TEST(MailMessage, NonAsciiHeaderBecomesEncodedWordsThatDecodeBack)
{
  const std::string value = "[Test Hospital] Neue Bilder von Dr. J\xc3\xbcrgen M\xc3\xbcller "
                            "(Klinikum K\xc3\xb6ln) \xe2\x80\x93 \xe6\x97\xa5\xe6\x9c\xac";
  const std::string header = Mail::EncodeUnstructuredHeader("Subject", value);
  EXPECT_EQ(0u, header.find("Subject: =?UTF-8?B?"));
  EXPECT_EQ(value, DecodeHeader(header));
  for (const std::string& w : DecodeWords(header))
  {
    EXPECT_EQ(std::string::npos, w.find("<plain:"));
  }
}

TEST(MailMessage, LongAsciiHeaderIsEncodedAndFolded)
{
  const std::string value(200, 'x');
  const std::string header = Mail::EncodeUnstructuredHeader("Subject", value);
  EXPECT_EQ(value, DecodeHeader(header));
  EXPECT_GT(SplitCrLf(header).size(), 1u);
}

TEST(MailMessage, LineBreaksInAHeaderValueNeverStartAHeader)
{
  for (const std::string& value :
       {std::string("Hi\r\nBcc: victim@evil.example"), std::string("Hi\nBcc: victim@evil.example"),
        std::string("Hi\rBcc: victim@evil.example"),
        std::string("Gr\xc3\xbc\xc3\x9f"
                    "e\r\n\r\nBody injected"),
        std::string(100, 'y') + "\r\nX-Evil: 1" + std::string(100, 'z')})
  {
    const std::string header = Mail::EncodeUnstructuredHeader("Subject", value);
    const std::vector<std::string> lines = SplitCrLf(header);
    EXPECT_EQ(0u, lines[0].find("Subject: "));
    for (size_t i = 1; i < lines.size(); i++)
    {
      ASSERT_FALSE(lines[i].empty()) << header;
      EXPECT_EQ(' ', lines[i][0]) << header;
    }
    EXPECT_FALSE(HasBareLineBreak(header)) << header;
    const std::string decoded =
        header.compare(0, 19, "Subject: =?UTF-8?B?") == 0 ? DecodeHeader(header) : header.substr(9);
    EXPECT_EQ(std::string::npos, decoded.find_first_of("\r\n")) << header;
    EXPECT_EQ(Mail::CleanText(value, false), decoded);
  }
}

TEST(MailMessage, EncodedHeaderLinesStayWithin78Columns)
{
  std::string worst;
  size_t longest = 0;
  for (const std::string& unit :
       {std::string("\xc3\xa9"), std::string("\xe2\x82\xac"), std::string("\xf0\x9f\x98\x80"),
        std::string("x"), std::string("a\xc3\xa9")})
  {
    for (size_t n = 1; n <= 120; n++)
    {
      std::string value;
      for (size_t i = 0; i < n; i++)
      {
        value += unit;
      }
      const std::string header = Mail::EncodeUnstructuredHeader("Subject", value);
      if (LongestLine(header) > longest)
      {
        longest = LongestLine(header);
        worst = header;
      }
    }
  }
  EXPECT_LE(longest, 78u) << "longest line in:\n" << worst;
}

TEST(MailMessage, AFourByteCharacterIsNeverSplitBetweenEncodedWords)
{
  const std::string emoji = "\xf0\x9f\x98\x80";
  for (size_t prefix = 0; prefix < 50; prefix++)
  {
    std::string value(prefix, 'a');
    for (int i = 0; i < 30; i++)
    {
      value += emoji + (i % 3 == 0 ? "\xc3\xa9" : "");
    }
    const std::string header = Mail::EncodeUnstructuredHeader("Subject", value);
    std::string joined;
    for (const std::string& word : DecodeWords(header))
    {
      ASSERT_TRUE(IsValidUtf8(word)) << "prefix " << prefix << ": " << header;
      joined += word;
    }
    EXPECT_EQ(value, joined);
  }
}

TEST(MailMessage, AValueThatLooksLikeAnEncodedWordIsEncoded)
{
  const std::string value = "=?UTF-8?B?SGFja2Vk?=";
  const std::string header = Mail::EncodeUnstructuredHeader("Subject", value);
  EXPECT_NE("Subject: " + value, header);
  EXPECT_EQ(value, DecodeHeader(header));
}

TEST(MailMessage, EncodeMailboxQuotesOrEncodesTheName)
{
  EXPECT_EQ("<a@b.example>", Mail::EncodeMailbox(MailAddress{"", "a@b.example"}));
  EXPECT_EQ("\"Dr. \\\"Bob\\\" \\\\ Smith\" <a@b.example>",
            Mail::EncodeMailbox(MailAddress{"Dr. \"Bob\" \\ Smith", "a@b.example"}));
  const std::string encoded =
      Mail::EncodeMailbox(MailAddress{"J\xc3\xbcrgen\r\nBcc: x", "a@b.example"});
  const std::vector<std::string> lines = SplitCrLf(encoded);
  ASSERT_GE(lines.size(), 2u);
  EXPECT_EQ(" <a@b.example>", lines.back());
  for (size_t i = 1; i < lines.size(); i++)
  {
    EXPECT_EQ(' ', lines[i][0]);
  }
  EXPECT_THROW(Mail::EncodeMailbox(MailAddress{"X", "not an address"}), std::invalid_argument);
}

TEST(MailMessage, FormatDateOfAKnownInstant)
{
  EXPECT_EQ("Mon, 23 Nov 2026 12:34:56 +0000", Mail::FormatDate(1795437296000));
  EXPECT_EQ("Mon, 23 Nov 2026 12:34:56 +0000", Mail::FormatDate(1795437296999));
  EXPECT_EQ("Tue, 29 Feb 2000 00:00:00 +0000", Mail::FormatDate(951782400000));
  EXPECT_EQ("Thu, 01 Jan 1970 00:00:00 +0000", Mail::FormatDate(0));
}

TEST(MailMessage, ComposeWritesEachRequiredHeaderOnce)
{
  MailContent c = MakeContent();
  c.extraHeaders.push_back({"Auto-Submitted", "auto-generated"});
  c.extraHeaders.push_back({"X-Inbound-Upload", "U123"});
  const std::string m = Mail::Compose(c, kBoundary);
  const std::vector<std::string> h = Headers(m);
  for (const char* name : {"From", "To", "Subject", "Date", "Message-ID", "MIME-Version"})
  {
    EXPECT_EQ(1u, CountHeaders(h, name)) << name;
  }
  EXPECT_EQ("From: \"Orthanc Inbound\" <inbound@hospital.example>", FindHeader(h, "From"));
  EXPECT_EQ("To: \"Neuroradiology\" <neuro@hospital.example>", FindHeader(h, "To"));
  EXPECT_EQ("Subject: New images", FindHeader(h, "Subject"));
  EXPECT_EQ("Date: Mon, 23 Nov 2026 12:34:56 +0000", FindHeader(h, "Date"));
  EXPECT_EQ("Message-ID: <inbound.0123abcd@hospital.example>", FindHeader(h, "Message-ID"));
  EXPECT_EQ("MIME-Version: 1.0", FindHeader(h, "MIME-Version"));
  EXPECT_EQ("Auto-Submitted: auto-generated", FindHeader(h, "Auto-Submitted"));
  EXPECT_EQ("X-Inbound-Upload: U123", FindHeader(h, "X-Inbound-Upload"));
  EXPECT_EQ(0u, CountHeaders(h, "Reply-To"));
  EXPECT_EQ("Content-Type: multipart/alternative; boundary=\"" + kBoundary + "\"",
            FindHeader(h, "Content-Type"));
}

TEST(MailMessage, ComposeUsesCrLfOnlyAndShortLines)
{
  MailContent c = MakeContent();
  c.subject = "Line\nbreak \xc3\xa9 " + std::string(150, 's');
  c.text = "a\nb\r\nc\rd\n\n" + std::string(500, 't');
  c.html = "<p>\n</p>\r";
  c.to.push_back(MailAddress{"Zweite Empf\xc3\xa4ngerin mit einem langen Namen", "z@b.example"});
  const std::string m = Mail::Compose(c, kBoundary);
  EXPECT_FALSE(HasBareLineBreak(m));
  EXPECT_LE(LongestLine(m), 998u);
  EXPECT_EQ(m.size() - 2, m.rfind("\r\n"));
  EXPECT_NE(std::string::npos, m.find("\r\n--" + kBoundary + "--\r\n"));
}

TEST(MailMessage, ComposedPartsDecodeBackToTheBodies)
{
  MailContent c = MakeContent();
  c.text = "Gr\xc3\xbc\xc3\x9f"
           "e\nZeile 2\n\n\xf0\x9f\x98\x80 Ende";
  c.html = "<p>Gr\xc3\xbc\xc3\x9f"
           "e</p>\n<p>2</p>";
  const std::string m = Mail::Compose(c, kBoundary);
  EXPECT_EQ("Gr\xc3\xbc\xc3\x9f"
            "e\r\nZeile 2\r\n\r\n\xf0\x9f\x98\x80 Ende",
            DecodePart(m, "text/plain"));
  EXPECT_EQ("<p>Gr\xc3\xbc\xc3\x9f"
            "e</p>\r\n<p>2</p>",
            DecodePart(m, "text/html"));

  c.text = "";
  c.html = std::string(1000, 'h');
  const std::string m2 = Mail::Compose(c, kBoundary);
  EXPECT_EQ("", DecodePart(m2, "text/plain"));
  EXPECT_EQ(std::string(1000, 'h'), DecodePart(m2, "text/html"));
}

TEST(MailMessage, ComposeKeepsCrLfLinesAsTheyAre)
{
  // A message typed on Windows (or sent by a form: browsers submit CRLF) keeps its lines;
  // no blank is added at the end of each.
  MailContent c = MakeContent();
  c.text = "first\r\nsecond";
  EXPECT_EQ("first\r\nsecond", DecodePart(Mail::Compose(c, kBoundary), "text/plain"));
}

TEST(MailMessage, ReplyToOnlyForAValidAddress)
{
  MailContent c = MakeContent();
  c.replyTo = "sender@clinic.example";
  EXPECT_EQ("Reply-To: <sender@clinic.example>",
            FindHeader(Headers(Mail::Compose(c, kBoundary)), "Reply-To"));
  for (const char* bad : {"sender@clinic.example\r\nBcc: x@y.example", "not an address",
                          "Sender <sender@clinic.example>", "s\xc3\xa9@clinic.example"})
  {
    c.replyTo = bad;
    const std::string m = Mail::Compose(c, kBoundary);
    EXPECT_EQ(0u, CountHeaders(Headers(m), "Reply-To")) << bad;
    EXPECT_EQ(0u, CountHeaders(Headers(m), "Bcc")) << bad;
  }
}

TEST(MailMessage, UnsafeExtraHeadersAreDropped)
{
  MailContent c = MakeContent();
  c.extraHeaders = {{"X-Good", "fine"},
                    {"X-Bad", "value\r\nBcc: victim@evil.example"},
                    {"X-Bad2", "value\nBcc: victim@evil.example"},
                    {"X Bad", "space in the name"},
                    {"X-Bad:", "colon in the name"},
                    {"Bcc: victim@evil.example\r\nX-A", "name with a line break"},
                    {"", "empty name"},
                    {"X-Long", std::string(300, 'l')},
                    {"X-Utf8", "\xc3\xa9"}};
  const std::string m = Mail::Compose(c, kBoundary);
  const std::vector<std::string> h = Headers(m);
  EXPECT_EQ("X-Good: fine", FindHeader(h, "X-Good"));
  for (const char* name : {"X-Bad", "X-Bad2", "X Bad", "X-Bad:", "Bcc", "X-Long", "X-Utf8"})
  {
    EXPECT_EQ(0u, CountHeaders(h, name)) << name;
  }
  EXPECT_EQ(std::string::npos, m.find("victim"));
  EXPECT_FALSE(HasBareLineBreak(m));
}

TEST(MailMessage, InvalidBoundaryMessageIdOrNoRecipientThrows)
{
  const MailContent c = MakeContent();
  for (const char* boundary : {"", "plain", "=_", "=_with space", "=_quote\"", "=_a\r\nX: y",
                               "=_0123456789012345678901234567890123456789012345678901234567890"})
  {
    EXPECT_THROW(Mail::Compose(c, boundary), std::invalid_argument) << boundary;
  }
  for (const char* id :
       {"", "no-at-sign", "a b@c.example", "<a@b.example>", "a@b.example>\r\nX: y", "a@b@c"})
  {
    MailContent bad = c;
    bad.messageId = id;
    EXPECT_THROW(Mail::Compose(bad, kBoundary), std::invalid_argument) << id;
  }
  MailContent nobody = c;
  nobody.to.clear();
  EXPECT_THROW(Mail::Compose(nobody, kBoundary), std::invalid_argument);
  MailContent badTo = c;
  badTo.to[0].address = "not an address";
  EXPECT_THROW(Mail::Compose(badTo, kBoundary), std::invalid_argument);
}
