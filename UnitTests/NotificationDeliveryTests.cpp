// Unit tests of the delivery of notifications: back-off, giving up, signatures, admin view.
#include <OrthancFramework.h> // first: it defines what the framework headers test

#include "NotifierTestSupport.h"

#include <boost/regex.hpp>

using namespace NotifierTesting;

namespace
{
  // The same fixture, named for what these tests check.
  class NotificationDeliveryTest : public NotifierTest
  {
  };
}

TEST_F(NotificationDeliveryTest, AFailingRelayIsRetriedWithDoublingCappedBackOff)
{
  Start(R"({"Notifications": {"RetryInterval": 10, "MaxRetryInterval": 35, "GiveUpAfter": 3600},
            "Webhooks": []})");
  mail_.failAll = true;
  const int64_t t0 = clock_.now;
  CompleteUpload();
  Run();
  NotificationRecord n = Only("recipient");
  EXPECT_EQ(NotificationState_Pending, n.state);
  EXPECT_EQ(1, n.attempts);
  EXPECT_EQ(t0 + 10000, n.nextAttemptAt);
  EXPECT_NE(std::string::npos, n.lastError.find("relay down"));

  Run(); // not due yet
  EXPECT_EQ(1u, mail_.attempts.size());

  const int64_t expected[] = {20000, 35000, 35000, 35000};
  for (int64_t delay : expected)
  {
    clock_.now = Only("recipient").nextAttemptAt;
    Run();
    n = Only("recipient");
    EXPECT_EQ(clock_.now + delay, n.nextAttemptAt);
  }
  EXPECT_EQ(5, n.attempts);
  EXPECT_EQ(5u, mail_.attempts.size());

  mail_.failAll = false;
  clock_.now = n.nextAttemptAt;
  EXPECT_EQ(1u, Run());
  EXPECT_EQ(NotificationState_Delivered, Only("recipient").state);
  EXPECT_EQ(6, Only("recipient").attempts);
  EXPECT_EQ("", Only("recipient").lastError);
  for (const FakeMailTransport::Sent& s : mail_.attempts)
  {
    EXPECT_EQ(mail_.attempts[0].message, s.message); // same bytes, same Message-ID
  }
}

TEST_F(NotificationDeliveryTest, AGivenUpNotificationIsDeadLetteredAndAlertsTheAdmins)
{
  Start(R"({"Notifications": {"RetryInterval": 30, "GiveUpAfter": 100, "AdminAlertInterval": 0},
            "Webhooks": []})");
  mail_.failFor = {"neuro@hospital.example"};
  const int64_t t0 = clock_.now;
  const std::string id = CompleteUpload();
  Run();
  clock_.now = t0 + 30000;
  Run();
  EXPECT_EQ(t0 + 90000, Only("recipient").nextAttemptAt);
  clock_.now = t0 + 90000;
  Run();
  EXPECT_EQ(t0 + 100000, Only("recipient").nextAttemptAt); // the last attempt at the deadline
  EXPECT_TRUE(Audit("alert-notification-failed").empty());
  clock_.now = t0 + 100000;
  Run();

  const NotificationRecord failed = Only("recipient");
  EXPECT_EQ(NotificationState_Failed, failed.state);
  EXPECT_EQ(4, failed.attempts);
  const std::vector<AuditEvent> dead = Audit("alert-notification-failed");
  ASSERT_EQ(1u, dead.size());
  EXPECT_EQ(id, dead[0].uploadId);
  EXPECT_NE(std::string::npos, dead[0].detail.find("neuro@hospital.example"));

  Run(); // the alert
  ASSERT_EQ(1u, mail_.To("admin@hospital.example").size());
  ASSERT_EQ(1u, mail_.To("ops@hospital.example").size());
  const ParsedMail alert = ParseMail(mail_.To("admin@hospital.example")[0].message);
  EXPECT_EQ("[Test Hospital] Alert: A notification could not be delivered", alert.subject);
  EXPECT_EQ("\"Ops Team\" <ops@hospital.example>",
            ParseMail(mail_.To("ops@hospital.example")[0].message).headers["To"]);
  EXPECT_NE(std::string::npos, alert.text.find(id));
  EXPECT_EQ(0u, alert.headers.count("Reply-To"));
}

TEST_F(NotificationDeliveryTest, AFailedAlertAboutAFailedNotificationRaisesNoFurtherAlert)
{
  Start(R"({"Notifications": {"RetryInterval": 30, "GiveUpAfter": 100, "AdminAlertInterval": 0}})");
  mail_.failAll = true;
  hooks_.status = 500;
  CompleteUpload();
  RunUntilSettled();
  RunUntilSettled();
  RunUntilSettled();

  // The recipient mail and the webhook call failed: two alerts. The alerts about them
  // (two mails, two webhook calls) failed too: recorded, not announced.
  EXPECT_EQ(2u, Audit("alert-notification-failed").size());
  EXPECT_EQ(2u * 3u, Audit("notification-failed").size());
  EXPECT_EQ(0u, Queue("pending").size());
  const size_t queued = Queue().size();
  EXPECT_EQ(2u + 2u * 3u, queued);
  clock_.now += 3600 * 1000;
  Run();
  EXPECT_EQ(queued, Queue().size());
}

TEST_F(NotificationDeliveryTest, WebhooksAreSignedAndKeepTheirDeliveryIdAcrossRetries)
{
  Start("{}", false, true);
  hooks_.fail = true;
  const std::string id = CompleteUpload();
  Run();
  hooks_.fail = false;
  hooks_.status = 503;
  clock_.now = Queue()[0].nextAttemptAt + 1234;
  Run();
  EXPECT_NE(std::string::npos, Queue()[0].lastError.find("503"));
  EXPECT_EQ(NotificationState_Pending, Queue()[0].state);
  hooks_.status = 204;
  clock_.now = Queue()[0].nextAttemptAt + 5678;
  EXPECT_EQ(1u, Run());
  EXPECT_EQ(NotificationState_Delivered, Queue()[0].state);

  ASSERT_EQ(3u, hooks_.calls.size());
  const Json::Value body = ParseJson(hooks_.calls[0].body);
  const std::string delivery = body["delivery"].asString();
  EXPECT_TRUE(boost::regex_match(delivery, boost::regex("[0-9a-f]{32}"))) << delivery;
  std::set<std::string> timestamps;
  for (FakeWebhookTransport::Call& call : hooks_.calls)
  {
    EXPECT_EQ(kHookUrl, call.url);
    EXPECT_EQ(hooks_.calls[0].body, call.body);
    EXPECT_EQ("application/json", call.headers["Content-Type"]);
    EXPECT_EQ("upload.completed", call.headers["X-Inbound-Event"]);
    EXPECT_EQ(delivery, call.headers["X-Inbound-Delivery"]);
    const std::string timestamp = call.headers["X-Inbound-Timestamp"];
    timestamps.insert(timestamp);
    EXPECT_EQ("sha256=" + Hmac(kSecret, timestamp + "." + call.body),
              call.headers["X-Inbound-Signature"]);
  }
  EXPECT_EQ(3u, timestamps.size());
  EXPECT_EQ(std::to_string(clock_.now / 1000), hooks_.calls[2].headers["X-Inbound-Timestamp"]);

  EXPECT_EQ("upload.completed", body["event"].asString());
  EXPECT_EQ("Test Hospital", body["site"].asString());
  EXPECT_EQ("Standalone", body["role"].asString());
  const Json::Value& upload = body["upload"];
  EXPECT_EQ(id, upload["id"].asString());
  EXPECT_EQ("RCPT-" + id, upload["receiptCode"].asString());
  EXPECT_EQ("neuro", upload["recipient"]["id"].asString());
  EXPECT_EQ("Neuroradiology", upload["recipient"]["name"].asString());
  EXPECT_EQ("a@example.org", upload["sender"]["email"].asString());
  EXPECT_EQ(2, upload["files"].asInt());
  EXPECT_EQ(2000, upload["bytes"].asInt());
  ASSERT_EQ(1u, upload["studies"].size());
  const Json::Value& study = upload["studies"][0];
  EXPECT_EQ("ostudy-" + id + "-0", study["orthancStudyId"].asString());
  EXPECT_EQ("https://orthanc.hospital.example/app/explorer.html#study?uuid=ostudy-" + id + "-0",
            study["link"].asString());
  EXPECT_EQ("CT", study["modalities"][0].asString());
  EXPECT_EQ(1, study["series"].asInt());
  EXPECT_EQ(2, study["instances"].asInt());

  // The admin's view names the same delivery id.
  EXPECT_EQ(delivery, notifier_->Describe("", 10)["notifications"][0]["delivery"].asString());
}

TEST_F(NotificationDeliveryTest, RetryMakesAFailedNotificationPendingAndDueNow)
{
  Start(R"({"Notifications": {"GiveUpAfter": 1, "AdminEmails": []}, "Webhooks": []})");
  mail_.failAll = true;
  CompleteUpload();
  Run();
  clock_.now += 1000;
  Run();
  const NotificationRecord failed = Only("recipient");
  ASSERT_EQ(NotificationState_Failed, failed.state);

  clock_.now += 5000;
  EXPECT_TRUE(notifier_->Retry(failed.id, "admin"));
  NotificationRecord n = Only("recipient");
  EXPECT_EQ(NotificationState_Pending, n.state);
  EXPECT_EQ(clock_.now, n.nextAttemptAt);
  ASSERT_EQ(1u, Audit("notification-retry").size());
  EXPECT_NE(std::string::npos, Audit("notification-retry")[0].detail.find("admin"));
  EXPECT_FALSE(notifier_->Retry(failed.id + 1000, "admin"));

  mail_.failAll = false;
  EXPECT_EQ(1u, Run());
  EXPECT_EQ(NotificationState_Delivered, Only("recipient").state);
  EXPECT_FALSE(notifier_->Retry(failed.id, "admin")); // delivered: nothing to retry
}

TEST_F(NotificationDeliveryTest, DescribeCountsAndListsNewestFirst)
{
  Start(R"({"Notifications": {"GiveUpAfter": 1, "AdminAlertInterval": 0}})");
  mail_.failFor = {"neuro@hospital.example"};
  CompleteUpload();
  Run(); // webhook delivered, mail failed once
  clock_.now += 1000;
  Run();                // mail given up
  notifier_->Collect(); // the two admin alert mails and the alert webhook: pending

  const Json::Value all = notifier_->Describe("", 100);
  EXPECT_EQ(3, all["counts"]["pending"].asInt());
  EXPECT_EQ(1, all["counts"]["delivered"].asInt());
  EXPECT_EQ(1, all["counts"]["failed"].asInt());
  ASSERT_EQ(5u, all["notifications"].size());
  for (Json::ArrayIndex i = 1; i < all["notifications"].size(); i++)
  {
    EXPECT_GT(all["notifications"][i - 1]["id"].asInt64(), all["notifications"][i]["id"].asInt64());
  }
  for (const Json::Value& n : all["notifications"])
  {
    const std::string state = n["state"].asString();
    EXPECT_EQ(state == "pending", n["nextAttemptAt"].isString()) << state;
    EXPECT_EQ(state == "delivered", n["deliveredAt"].isString()) << state;
    if (state == "failed")
    {
      EXPECT_EQ("recipient", n["kind"].asString());
      EXPECT_EQ("mail", n["channel"].asString());
      EXPECT_EQ("neuro@hospital.example", n["target"].asString());
      EXPECT_EQ("upload-complete", n["event"].asString());
      EXPECT_EQ(2, n["attempts"].asInt());
      EXPECT_NE(std::string::npos, n["lastError"].asString().find("relay down"));
    }
  }
  const Json::Value failed = notifier_->Describe("failed", 100);
  ASSERT_EQ(1u, failed["notifications"].size());
  EXPECT_EQ(1, failed["counts"]["failed"].asInt());
  EXPECT_EQ(2u, notifier_->Describe("", 2)["notifications"].size());
}

TEST(NotificationDelivery, SignWebhookMatchesAnIndependentHmac)
{
  const std::vector<std::string> headers = NotificationDelivery::SignWebhook(
      kSecret, "alert", "0123456789abcdef0123456789abcdef", 1770000000, "{\"a\":1}");
  std::map<std::string, std::string> h;
  for (const std::string& line : headers)
  {
    ASSERT_EQ(std::string::npos, line.find_first_of("\r\n"));
    h[line.substr(0, line.find(": "))] = line.substr(line.find(": ") + 2);
  }
  EXPECT_EQ("alert", h["X-Inbound-Event"]);
  EXPECT_EQ("0123456789abcdef0123456789abcdef", h["X-Inbound-Delivery"]);
  EXPECT_EQ("1770000000", h["X-Inbound-Timestamp"]);
  EXPECT_EQ("sha256=" + Hmac(kSecret, "1770000000.{\"a\":1}"), h["X-Inbound-Signature"]);
}
