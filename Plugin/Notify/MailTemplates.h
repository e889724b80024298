// The notification mail templates: built in per language, replaceable by the admin, Mustache.
#pragma once

#include <json/value.h>

#include <string>

namespace Inbound
{
  // The e-mail templates (Mustache, through kainjow/mustache): built into the plugin from
  // Resources/Notifications/<language>/<name>, each replaceable by a file of the same
  // relative path in the admin's folder (Inbound.Notifications.Templates).
  class MailTemplates
  {
  private:
    std::string folder_;

    std::string Load(const std::string& language, const std::string& name) const;

  public:
    // "folder" empty: the built-in templates only.
    explicit MailTemplates(const std::string& folder);

    // Parses every template of every language; throws, naming the file, on the first
    // missing or broken one (called at start-up, so that a typo stops Orthanc at once).
    void Check() const;

    // Renders "<language>/<name>" with the values of "data" (a JSON object: strings,
    // numbers, booleans, lists of objects; empty strings count as false in sections).
    // Names ending in ".html" escape values for HTML; others insert them as they are.
    // Subjects ("…-subject.txt") come back as one trimmed line.
    std::string Render(const std::string& language, const std::string& name,
                       const Json::Value& data) const;

    static const char* const kNames[];

    // Whether "language" is one of the plugin's languages (Toolbox/Languages.h): mails can be
    // written in it.
    static bool IsLanguage(const std::string& language);
  };
}
