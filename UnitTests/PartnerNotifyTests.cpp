// Unit tests of the mails of a partner site's upload: named as sent automatically, no receipt.
#include <OrthancFramework.h> // first: it defines what the framework headers test

#include "NotifierTestSupport.h"

using namespace NotifierTesting;

TEST_F(NotifierTest, APartnerUploadIsSentAutomaticallyAndGetsNoReceipt)
{
  Start(R"({"Notifications": {"SenderReceipt": true}})");
  const std::string id = CompleteUpload("neuro", "pacs@clinic-a.example", 1, "Clinic A");
  // What PartnerSession records for a partner's upload.
  {
    LedgerDatabase::Session session(ledger_.GetDatabase());
    session.GetConnection().Execute(
      "UPDATE uploads SET partner_id = 'clinic-a', partner_study = '1.2', message = ''"
      " WHERE id = '" + id + "'");
  }
  Run();

  ASSERT_EQ(1u, mail_.delivered.size());  // the recipient's; the partner is no person to mail
  const FakeMailTransport::Sent& sent = mail_.delivered[0];
  EXPECT_EQ(std::vector<std::string>{"neuro@hospital.example"}, sent.recipients);
  ParsedMail m = ParseMail(sent.message);
  EXPECT_EQ("[Test Hospital] Images sent automatically by Clinic A", m.subject);
  for (const std::string& body : {m.text, m.html})
  {
    EXPECT_NE(std::string::npos, body.find("Sent automatically by Clinic A (Clinic West), a partner site"));
    EXPECT_EQ(std::string::npos, body.find("The sender has the same receipt code"));
  }
  EXPECT_TRUE(Audit("receipt-suppressed").empty());

  // A sender's upload still gets the usual wording and its receipt.
  CompleteUpload("neuro", "a@example.org", 1, "Dr. A");
  Run();
  ASSERT_EQ(3u, mail_.delivered.size());
  EXPECT_EQ("[Test Hospital] New images from Dr. A (Clinic West)", ParseMail(mail_.delivered[1].message).subject);
}
