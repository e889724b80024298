// The one list of languages: the same as the web pages', with mail templates, enforced by the configuration.
#include "Configuration.h"
#include "Notify/MailTemplates.h"
#include "Toolbox/Json.h"
#include "Toolbox/Languages.h"

#include <OrthancException.h>

#include <boost/filesystem.hpp>
#include <boost/regex.hpp>

#include <gtest/gtest.h>

#include <fstream>
#include <sstream>

using namespace Inbound;

namespace
{
  std::string ReadSource(const std::string& path)
  {
    std::ifstream file(std::string(INBOUND_SOURCE_DIR) + "/" + path);
    std::stringstream text;
    text << file.rdbuf();
    return text.str();
  }

  std::string ErrorOf(const std::string& section)
  {
    Json::Value value;
    std::string errors;
    EXPECT_TRUE(JsonText::ParseConfiguration(value, section, errors)) << errors;
    try
    {
      Configuration::Parse(value);
    }
    catch (const Orthanc::OrthancException& e)
    {
      return e.GetDetails();
    }
    return "";
  }
}

TEST(Languages, TheWebPagesListTheSameCodesInTheSameOrder)
{
  const std::string script = ReadSource("Resources/WebShared/languages.js");
  ASSERT_FALSE(script.empty()) << "Resources/WebShared/languages.js not found";
  static const boost::regex kCode("code:\\s*'([a-z]{2,3})'");
  std::vector<std::string> codes;
  for (boost::sregex_iterator it(script.begin(), script.end(), kCode), end; it != end; ++it)
  {
    codes.push_back((*it)[1]);
  }
  EXPECT_EQ(GetLanguages(), codes);
}

TEST(Languages, EveryLanguageHasEveryMailTemplate)
{
  for (const std::string& language : GetLanguages())
  {
    for (const char* const* name = MailTemplates::kNames; *name != nullptr; ++name)
    {
      EXPECT_TRUE(boost::filesystem::is_regular_file(std::string(INBOUND_SOURCE_DIR) +
                                                     "/Resources/Notifications/" + language +
                                                     "/" + *name))
        << language << "/" << *name;
    }
  }
  // No template folder for a language the plugin does not know.
  for (boost::filesystem::directory_iterator it(std::string(INBOUND_SOURCE_DIR) +
                                                "/Resources/Notifications"), end;
       it != end; ++it)
  {
    if (boost::filesystem::is_directory(it->path()))
    {
      EXPECT_TRUE(IsLanguage(it->path().filename().string())) << it->path();
    }
  }
}

TEST(Languages, TheConfigurationAcceptsOnlyThem)
{
  EXPECT_EQ("\"en\" or \"de\"", DescribeLanguages());
  EXPECT_TRUE(IsLanguage("de"));
  EXPECT_FALSE(IsLanguage("fr"));
  EXPECT_FALSE(IsLanguage(""));
  EXPECT_FALSE(IsLanguage("DE"));
  EXPECT_EQ("", ErrorOf(R"({"Languages": ["de", "en"]})"));
  EXPECT_NE(std::string::npos, ErrorOf(R"({"Languages": ["en", "fr"]})").find("Inbound.Languages"));
  EXPECT_NE(std::string::npos,
            ErrorOf(R"({"Recipients": [{"Id": "x", "Name": "X", "Email": "a@b.org", "Language": "fr"}]})")
              .find("Inbound.Recipients[0].Language"));
  EXPECT_NE(std::string::npos,
            ErrorOf(R"({"Notifications": {"Language": "fr"}})").find("\"en\" or \"de\""));
}
