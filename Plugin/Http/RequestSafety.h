// The rules every request meets on every route: no method override, same-origin admin writes.
#pragma once

#include <Enumerations.h>

#include <string>

namespace Inbound
{
  // The rules every request meets whatever its route, shared by the access filter (which sees
  // the request before Orthanc reads its body) and the plugin's route handlers (which answer
  // the JSON error): no method override, and admin writes from the site's own pages only.
  struct RequestFacts
  {
    bool methodOverride = false;  // "_method" argument or an X-HTTP-Method-Override header
    bool multipartForm = false;   // a multipart body, or X-File-Name / X-File-Size
    // A STOW-RS body: multipart/related with type=application/dicom (the only body of the
    // partner routes; still a multipartForm for every other route).
    bool stowMultipart = false;
    std::string origin;           // the Origin header
    std::string host;             // the Host header
    std::string forwardedProto;   // X-Forwarded-Proto: "https" behind the TLS proxy
    std::string requestedWith;    // the X-Requested-With header

    // Takes note of one header (any case).
    void AddHeader(const char* name, const char* value);

    // Takes note of one GET argument.
    void AddArgument(const char* name);
  };

  // POST, PUT and DELETE change something.
  bool IsWrite(Orthanc::HttpMethod method);

  // "origin" ("https://host:port") names the same scheme, host and port as the request: the
  // Host header, and https when the TLS proxy says so (X-Forwarded-Proto, which no cross-site
  // form can set). Browsers send Origin on every cross-site write, so another site's page
  // cannot pass this test; a page of http://host (which a man in the middle can write) is
  // another site than https://host.
  bool IsSameOrigin(const std::string& origin, const std::string& host, bool https);

  // A write that a page of another site cannot have sent: it carries
  // "X-Requested-With: XMLHttpRequest" (a header no cross-site form or no-cors request can set,
  // and Orthanc answers no CORS preflight), or the site's own Origin.
  bool IsSameOriginWrite(const RequestFacts& facts);
}
