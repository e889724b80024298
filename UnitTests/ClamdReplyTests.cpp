// Unit tests of the parser of clamd's answers: every form clamd sends, and what an impostor could.
#include "Scan/ClamdReply.h"

#include <gtest/gtest.h>

using namespace Inbound;

namespace
{
  ClamdReply Parse(const std::string& bytes)
  {
    return ClamdReply::Parse(bytes.data(), bytes.size());
  }
}

TEST(ClamdReply, ReadsWhatClamdAnswers)
{
  // The forms of clamd 1.4 (measured with Debian's clamav-daemon), NUL-terminated ("z").
  EXPECT_EQ(ClamdReplyKind_Clean, Parse(std::string("stream: OK\0", 11)).kind);

  const ClamdReply found = Parse(std::string("stream: Inbound.Test.Marker.UNOFFICIAL FOUND\0", 45));
  EXPECT_EQ(ClamdReplyKind_Found, found.kind);
  EXPECT_EQ("Inbound.Test.Marker.UNOFFICIAL", found.signature);

  EXPECT_EQ(ClamdReplyKind_SizeLimit,
            Parse(std::string("INSTREAM size limit exceeded. ERROR\0", 36)).kind);
  const ClamdReply error = Parse(std::string("Error processing command. ERROR\0", 32));
  EXPECT_EQ(ClamdReplyKind_Error, error.kind);
  EXPECT_EQ("Error processing command. ERROR", error.text);
  EXPECT_EQ(ClamdReplyKind_Error, Parse(std::string("UNKNOWN COMMAND\0", 16)).kind);
  EXPECT_EQ(ClamdReplyKind_Error, Parse("COMMAND READ TIMED OUT\n").kind);

  // The newline form, and a connection closed after the reply without a terminator.
  EXPECT_EQ(ClamdReplyKind_Clean, Parse("stream: OK\n").kind);
  EXPECT_EQ(ClamdReplyKind_Clean, Parse("stream: OK").kind);
  EXPECT_EQ(ClamdReplyKind_Found, Parse("stream: Eicar-Signature FOUND\r\n").kind);

  // AllMatchScan: several findings, the first one counts.
  const ClamdReply two = Parse(std::string("stream: A.One FOUND\0stream: B.Two FOUND\0", 40));
  EXPECT_EQ(ClamdReplyKind_Found, two.kind);
  EXPECT_EQ("A.One", two.signature);
}

TEST(ClamdReply, WhatIsNotClamdsIsMalformed)
{
  for (const std::string& bytes :
       {std::string(), std::string("\0", 1), std::string("stream: ok"), std::string("OK"),
        std::string("stream: FOUND"), std::string("stream:  FOUND"),
        std::string("stream: two words FOUND"), std::string("HTTP/1.1 400 Bad Request\r\n"),
        std::string("stream: OK\x01"), std::string("stream: \xe2\x80\xa8 FOUND"),
        std::string("PONG"), std::string("stream: ") + std::string(201, 'A') + " FOUND"})
  {
    const ClamdReply reply = Parse(bytes);
    EXPECT_EQ(ClamdReplyKind_Malformed, reply.kind) << bytes;
    EXPECT_TRUE(reply.signature.empty());
  }
  // The longest signature name kept is 200 characters.
  EXPECT_EQ(ClamdReplyKind_Found,
            Parse("stream: " + std::string(200, 'A') + " FOUND").kind);
}

TEST(ClamdReply, ALongAnswerIsCutAndNeverTrusted)
{
  // Whatever listens there may send anything, for ever: only kMaxLength bytes count.
  const std::string flood(100000, 'A');
  EXPECT_TRUE(ClamdReply::IsComplete(flood.data(), ClamdReply::kMaxLength + 1));
  EXPECT_FALSE(ClamdReply::IsComplete(flood.data(), ClamdReply::kMaxLength));
  const ClamdReply reply = Parse(flood);
  EXPECT_EQ(ClamdReplyKind_Malformed, reply.kind);
  EXPECT_LE(reply.text.size(), 200u);

  // A reply that ends just within the cap is read; one past it is not.
  const std::string longest = "stream: OK" + std::string(ClamdReply::kMaxLength - 10, ' ');
  EXPECT_EQ(ClamdReplyKind_Malformed, Parse(longest + '\0').kind);  // not "OK" either
  EXPECT_EQ(ClamdReplyKind_Malformed, Parse(longest + ' ' + '\0').kind);
  const std::string error = std::string(ClamdReply::kMaxLength - 6, 'x') + " ERROR";
  EXPECT_EQ(ClamdReplyKind_Error, Parse(error + '\0').kind);
  EXPECT_EQ(ClamdReplyKind_Malformed, Parse('x' + error + '\0').kind);

  // The text reported for the log is printable.
  const ClamdReply control = Parse("\x1b[31mred\x07 ERROR");
  EXPECT_EQ(ClamdReplyKind_Malformed, control.kind);
  EXPECT_EQ(std::string::npos, control.text.find('\x1b'));
  EXPECT_TRUE(ClamdReply::IsComplete("a\0", 2));
  EXPECT_TRUE(ClamdReply::IsComplete("a\n", 2));
  EXPECT_FALSE(ClamdReply::IsComplete("stream: O", 9));
}
