// Unit tests of the limits of files in parts: part and whole bodies admitted, assemblies reserved.
#include "Http/ApiError.h"
#include "LedgerBackends.h"
#include "Limits/LimitsGuard.h"
#include "TestSupport.h"
#include "Toolbox/Json.h"

#include <OrthancException.h>

#include <gtest/gtest.h>

using namespace Inbound;

namespace
{
  Configuration ParseConfiguration(const std::string& json)
  {
    Json::Value section;
    std::string errors;
    EXPECT_TRUE(JsonText::ParseConfiguration(section, json, errors)) << errors;
    return Configuration::Parse(section);
  }

  const uint64_t kGiB = uint64_t(1) << 30;
  const uint64_t kPart = 1024 * 1024;
}

TEST(PartLimits, PartsWholeBodiesAndAssembliesReserveWhatTheyTake)
{
  // The largest file (4 GiB - 1 MiB - 1) is allowed with a budget for whole bodies of 512 MiB
  // (times 5).
  const Configuration big = ParseConfiguration(R"({"Upload": {"MaxFileBytes": 4293918719,
    "MaxBytesPerUpload": 137438953472, "PartBytes": 1048576},
    "Limits": {"MaxBytesInFlight": 3221225472, "MaxUploadsInFlightPerClient": 0},
    "DataMonitor": {"WarnFreeBytes": 0, "StopFreeBytes": 0}})");
  EXPECT_EQ(kMaxFileBytesCap, big.upload.maxFileBytes);
  EXPECT_EQ(4 * kGiB - kPart - 1, kMaxFileBytesCap);
  EXPECT_EQ(kPart, big.upload.partBytes);
  InboundTests::FakeClock clock;
  Ledger ledger(InboundTests::TestLedgerLocation());
  LimitsGuard guard(big, ledger, clock, {"/"});
  uint64_t part = 0, over = 0, whole = 0, t = 0;
  // A part: twice its length (Orthanc's copy, an envelope); far over PartBytes: refused unread.
  EXPECT_EQ(Admission_Allowed, guard.AdmitBody("192.0.2.1", true, false, kPart, part, true));
  EXPECT_EQ(2 * kPart, guard.Describe("")["inFlight"]["bytes"].asUInt64());
  EXPECT_EQ(Admission_TooLarge, guard.AdmitBody("192.0.2.1", true, false, 2 * kPart + 1, t, true));
  // A whole body over 512 MiB: the handler refuses it unparsed (counted once); twice: unread.
  EXPECT_EQ(Admission_Allowed,
            guard.AdmitBody("192.0.2.2", true, true, 512 * 1024 * 1024 + 1, over));
  EXPECT_EQ(Admission_TooLarge, guard.AdmitBody("192.0.2.3", true, true, kGiB + 1, t));
  guard.ReleaseBody(over);
  guard.ReleaseBody(part);
  EXPECT_EQ(Admission_Allowed, guard.AdmitBody("192.0.2.2", true, true, 512 * 1024 * 1024, whole));
  EXPECT_EQ(5 * 512 * 1024 * 1024ull, guard.Describe("")["inFlight"]["bytes"].asUInt64());
  guard.ReleaseBody(whole);

  // An assembly: 3 times the file; more than the budget can ever hold: 413; not now: 503.
  {
    std::unique_ptr<MemoryHold> held = guard.ReserveAssembly(kGiB);
    EXPECT_EQ(3 * kGiB, guard.Describe("")["inFlight"]["bytes"].asUInt64());
    try
    {
      guard.ReserveAssembly(1);
      ADD_FAILURE() << "no room";
    }
    catch (const ApiError& e)
    {
      EXPECT_EQ(503, e.GetStatus());
      EXPECT_EQ("server-busy", e.GetCode());
    }
  }
  EXPECT_EQ(0u, guard.Describe("")["inFlight"]["bytes"].asUInt64());
  try
  {
    guard.ReserveAssembly(kGiB + 1);
    ADD_FAILURE() << "can never fit";
  }
  catch (const ApiError& e)
  {
    EXPECT_EQ(413, e.GetStatus());
    EXPECT_EQ("too-large", e.GetCode());
  }

  // A gateway keeps the file on disk: two parts and a little, whatever its size.
  const Configuration gateway = ParseConfiguration(R"({"Role": "Gateway",
    "Upload": {"MaxFileBytes": 4293918719, "MaxBytesPerUpload": 137438953472,
               "PartBytes": 1048576},
    "Limits": {"MaxBytesInFlight": 1073741824},
    "DataMonitor": {"WarnFreeBytes": 0, "StopFreeBytes": 0}})");
  LimitsGuard gatewayGuard(gateway, ledger, clock, {"/"});
  {
    std::unique_ptr<MemoryHold> held = gatewayGuard.ReserveAssembly(4 * kGiB - kPart - 1);
    EXPECT_EQ(2 * kPart + 16 * kPart, gatewayGuard.Describe("")["inFlight"]["bytes"].asUInt64());
  }

  // Limits outside their ranges, and a budget below 512 MiB times 5 for a file above it.
  EXPECT_THROW(ParseConfiguration(R"({"Upload": {"PartBytes": 1048575}})"), Orthanc::OrthancException);
  EXPECT_THROW(ParseConfiguration(R"({"Upload": {"PartBytes": 536870913}})"), Orthanc::OrthancException);
  EXPECT_EQ(512 * kPart, ParseConfiguration(R"({"Upload": {"PartBytes": 536870912}})").upload.partBytes);
  // A Standalone stores at most 4 GiB - 1 through Orthanc's plugin API, with isolation's margin.
  EXPECT_THROW(ParseConfiguration(R"({"Upload": {"MaxFileBytes": 4293918720,
    "MaxBytesPerUpload": 137438953472}})"), Orthanc::OrthancException);
  const Configuration tooSmall = ParseConfiguration(R"({"Upload": {"MaxFileBytes": 4293918719,
    "MaxBytesPerUpload": 137438953472}, "Limits": {"MaxBytesInFlight": 2684354559}})");
  EXPECT_THROW(LimitsGuard(tooSmall, ledger, clock, {"/"}), Orthanc::OrthancException);
}
