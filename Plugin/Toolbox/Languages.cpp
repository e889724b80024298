// The list of languages and the checks built on it.
#include "Languages.h"

namespace Inbound
{
  const std::vector<std::string>& GetLanguages()
  {
    static const std::vector<std::string> kLanguages = {"en", "de"};
    return kLanguages;
  }

  bool IsLanguage(const std::string& code)
  {
    for (const std::string& language : GetLanguages())
    {
      if (language == code)
      {
        return true;
      }
    }
    return false;
  }

  std::string DescribeLanguages()
  {
    const std::vector<std::string>& languages = GetLanguages();
    std::string text;
    for (size_t i = 0; i < languages.size(); i++)
    {
      if (i > 0)
      {
        text += (i + 1 == languages.size()) ? " or " : ", ";
      }
      text += "\"" + languages[i] + "\"";
    }
    return text;
  }
}
