// The unit tests' main: initializes the Orthanc framework (DCMTK, OpenSSL) around the tests.
#include <OrthancFramework.h>
#include <Logging.h>

#include <gtest/gtest.h>

int main(int argc, char** argv)
{
  // Outside Orthanc the tests own DCMTK and OpenSSL, so they initialize the framework.
  Orthanc::InitializeFramework("", true);
  Orthanc::Logging::EnableInfoLevel(false);
  ::testing::InitGoogleTest(&argc, argv);
  const int result = RUN_ALL_TESTS();
  Orthanc::FinalizeFramework();
  return result;
}
