// The languages the plugin writes in (pages, receipts, mails): the C++ side's one list.
#pragma once

#include <string>
#include <vector>

namespace Inbound
{
  // Language codes, the default first. The web pages' list is Resources/WebShared/languages.js;
  // a unit test checks that both name the same codes in the same order and that every code has
  // its mail templates (Resources/Notifications/<code>/). Adding a language: CONTRIBUTING.md.
  const std::vector<std::string>& GetLanguages();

  bool IsLanguage(const std::string& code);

  // For error messages: "\"en\" or \"de\"".
  std::string DescribeLanguages();
}
