// Unit tests of the one answer to an exception that is not an ApiError, on every route.
#include "Http/UnexpectedError.h"

#include <OrthancException.h>

#include <gtest/gtest.h>

#include <stdexcept>

using namespace Inbound;

namespace
{
  template <typename Exception>
  ApiError Translate(const Exception& exception)
  {
    try
    {
      throw exception;
    }
    catch (...)
    {
      return GetApiErrorOfCurrentException();
    }
  }
}

TEST(UnexpectedError, TheLedgerAwayIs503LedgerUnavailableWithRetryAfter)
{
  const ApiError error = Translate(Orthanc::OrthancException(
    Orthanc::ErrorCode_DatabaseUnavailable, "db.hospital.example:5432 cannot be reached"));
  EXPECT_EQ(503, error.GetStatus());
  EXPECT_EQ("ledger-unavailable", error.GetCode());
  ASSERT_EQ(1u, error.GetHeaders().count("Retry-After"));
  EXPECT_EQ("5", error.GetHeaders().at("Retry-After"));
  // The server's address is for the log, not for the client.
  EXPECT_EQ(std::string::npos, error.ToJson().toStyledString().find("db.hospital"));
}

TEST(UnexpectedError, AFullArchiveIs507StorageFull)
{
  const ApiError error = Translate(Orthanc::OrthancException(Orthanc::ErrorCode_FullStorage));
  EXPECT_EQ(507, error.GetStatus());
  EXPECT_EQ("storage-full", error.GetCode());
  EXPECT_TRUE(error.GetHeaders().empty());
}

TEST(UnexpectedError, AnythingElseIs500InternalErrorWithoutItsDetails)
{
  const ApiError orthanc = Translate(
    Orthanc::OrthancException(Orthanc::ErrorCode_InternalError, "secret detail"));
  const ApiError standard = Translate(std::runtime_error("secret detail"));
  const ApiError other = Translate(42);
  for (const ApiError& error : {orthanc, standard, other})
  {
    EXPECT_EQ(500, error.GetStatus());
    EXPECT_EQ("internal-error", error.GetCode());
    EXPECT_TRUE(error.GetHeaders().empty());
    EXPECT_EQ(std::string::npos, error.ToJson().toStyledString().find("secret"));
  }
}
