// Unit tests of the store's calls into Orthanc: a busy or absent index (several Orthancs on one
// PostgreSQL index) is a transient 503, never a refusal of the file. OrthancStore.cpp is glue
// of the plugin, not of the core library: compiled into this test, against a fake Orthanc.
#include "../Plugin/Orthanc/OrthancStore.cpp"

#include <gtest/gtest.h>

#include <cstdlib>
#include <cstring>
#include <deque>

namespace
{
  // What the fake Orthanc answers to the next REST calls, in order; then success.
  std::deque<OrthancPluginErrorCode> answers_;
  int calls_ = 0;

  OrthancPluginErrorCode InvokeService(OrthancPluginContext*, _OrthancPluginService service,
                                       const void* params)
  {
    if (service != _OrthancPluginService_RestApiPost && service != _OrthancPluginService_RestApiPut &&
        service != _OrthancPluginService_RestApiDelete)
    {
      return OrthancPluginErrorCode_NotImplemented;  // error descriptions: "Unknown error code"
    }
    calls_++;
    OrthancPluginErrorCode code = OrthancPluginErrorCode_Success;
    if (!answers_.empty())
    {
      code = answers_.front();
      answers_.pop_front();
    }
    if (code == OrthancPluginErrorCode_Success && service != _OrthancPluginService_RestApiDelete)
    {
      const char* json = R"({"ID": "instance", "ParentSeries": "series", "ParentStudy": "study",
                            "ParentPatient": "patient", "Status": "Success"})";
      OrthancPluginMemoryBuffer* target =
        static_cast<const _OrthancPluginRestApiPostPut*>(params)->target;
      target->size = static_cast<uint32_t>(strlen(json));
      target->data = malloc(target->size);
      memcpy(target->data, json, target->size);
    }
    return code;
  }

  class OrthancStoreTest : public ::testing::Test
  {
  protected:
    OrthancPluginContext context_;
    Inbound::OrthancStore store_;

  public:
    OrthancStoreTest() : store_(&context_)
    {
      context_.pluginsManager = nullptr;
      context_.orthancVersion = "1.12.4";
      context_.Free = free;
      context_.InvokeService = InvokeService;
      answers_.clear();
      calls_ = 0;
    }
  };

  int StatusOf(const std::function<void()>& call, std::string& code)
  {
    try
    {
      call();
    }
    catch (const Inbound::ApiError& e)
    {
      code = e.GetCode();
      return e.GetStatus();
    }
    return 200;
  }
}

TEST_F(OrthancStoreTest, ASerializationConflictOfTheIndexIsTriedAgain)
{
  answers_ = {OrthancPluginErrorCode_DatabaseCannotSerialize,
              OrthancPluginErrorCode_DatabaseCannotSerialize};
  EXPECT_EQ("instance", store_.StoreInstance("DICM").instanceId);
  EXPECT_EQ(3, calls_);

  answers_ = {OrthancPluginErrorCode_DatabaseCannotSerialize};
  store_.SetMetadata(Inbound::ResourceLevel_Instance, "instance", "InboundUpload", "U1");
  EXPECT_EQ(5, calls_);
}

TEST_F(OrthancStoreTest, AnIndexAwayOrBusyIsA503NotARefusal)
{
  std::string code;
  answers_ = {OrthancPluginErrorCode_DatabaseUnavailable};
  EXPECT_EQ(503, StatusOf([&] { store_.StoreInstance("DICM"); }, code));
  EXPECT_EQ("archive-unavailable", code);

  answers_ = std::deque<OrthancPluginErrorCode>(6, OrthancPluginErrorCode_DatabaseCannotSerialize);
  EXPECT_EQ(503, StatusOf([&] { store_.StoreInstance("DICM"); }, code));
  EXPECT_TRUE(answers_.empty());  // six attempts, then given up for this round

  answers_ = {OrthancPluginErrorCode_DatabaseUnavailable};
  EXPECT_EQ(503, StatusOf([&] {
              store_.SetMetadata(Inbound::ResourceLevel_Instance, "i", "InboundUpload", "U1");
            }, code));

  // A file Orthanc refuses stays a refusal; a full disk stays a 507.
  answers_ = {OrthancPluginErrorCode_BadFileFormat};
  EXPECT_EQ(500, StatusOf([&] { store_.StoreInstance("DICM"); }, code));
  EXPECT_EQ("store-failed", code);
  answers_ = {OrthancPluginErrorCode_FullStorage};
  EXPECT_EQ(507, StatusOf([&] { store_.StoreInstance("DICM"); }, code));
}
