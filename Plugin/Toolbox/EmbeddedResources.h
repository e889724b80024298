// The files compiled into the plugin: default configuration, web bundles, mail templates.
#pragma once

#include <cstddef>
#include <string>

namespace Inbound
{
  struct EmbeddedFile
  {
    const char* path;
    const unsigned char* data;
    size_t size;
  };

  // All are generated at build time (Resources/CMake/EmbedResources.cmake).
  const std::string& GetDefaultConfiguration();

  // A file of the upload page's bundle by its path relative to the bundle ("index.html"),
  // or null.
  const EmbeddedFile* LookupWebFile(const std::string& path);

  // A built-in e-mail template ("en/recipient.txt", from Resources/Notifications), or null.
  const EmbeddedFile* LookupTemplateFile(const std::string& path);

  // A file of the admin page's bundle ("admin.js", bundled from Resources/AdminApp by
  // Resources/WebApp/build.mjs), or null.
  const EmbeddedFile* LookupAdminFile(const std::string& path);

  // The Orthanc Explorer extension ("inbound-explorer.js", from Resources/Explorer), or null.
  const EmbeddedFile* LookupExplorerFile(const std::string& path);
}
