// Fuzz targets' helpers: a civetweb worker's 100 KiB stack, input fields, the shared configuration.
#pragma once

#include "Configuration.h"

#include <pthread.h>

#include <algorithm>
#include <cstddef>
#include <cstdlib>
#include <functional>
#include <string>
#include <vector>

namespace InboundFuzzing
{
  // Orthanc 1.10.1's civetweb threads have 100 KiB of stack (doc/Architecture.md, fact 12), and
  // the plugin parses untrusted bytes on them: on the main thread's 8 MiB a nesting that kills
  // Orthanc goes unnoticed. AddressSanitizer's red zones make frames larger than in the
  // plugin's build, so the margin under the cap is smaller here than in production, never
  // larger. Anything escaping "run" ends the process (a finding).
  inline void RunOnCivetwebStack(const std::function<void()>& run)
  {
    struct Call
    {
      static void* Run(void* argument)
      {
        (*static_cast<const std::function<void()>*>(argument))();
        return nullptr;
      }
    };
    pthread_attr_t attributes;
    pthread_t thread;
    if (pthread_attr_init(&attributes) != 0 ||
        pthread_attr_setstacksize(&attributes, 100 * 1024) != 0 ||
        pthread_create(&thread, &attributes, &Call::Run,
                       const_cast<std::function<void()>*>(&run)) != 0)
    {
      abort();
    }
    pthread_join(thread, nullptr);
    pthread_attr_destroy(&attributes);
  }

  // The input cut into exactly `count` fields at `separator` (the last one keeps the rest,
  // missing ones are empty), so that one input drives several parameters.
  inline std::vector<std::string> SplitFields(const std::string& text, char separator,
                                              size_t count)
  {
    std::vector<std::string> fields;
    size_t start = 0;
    while (fields.size() + 1 < count)
    {
      const size_t end = text.find(separator, start);
      if (end == std::string::npos)
      {
        break;
      }
      fields.push_back(text.substr(start, end - start));
      start = end + 1;
    }
    fields.push_back(text.substr(std::min(start, text.size())));
    fields.resize(count);
    return fields;
  }

  // A Standalone with one recipient, "neuro": what the public routes' parsers check against.
  inline const Inbound::Configuration& GetStandaloneConfiguration()
  {
    static const Inbound::Configuration configuration = [] {
      Json::Value section;
      section["Privacy"]["Version"] = "1";
      Json::Value recipient;
      recipient["Id"] = "neuro";
      recipient["Name"] = "Neuroradiology";
      recipient["Email"] = "neuro@hospital.example";
      section["Recipients"].append(recipient);
      return Inbound::Configuration::Parse(section);
    }();
    return configuration;
  }
}
