// The route table: one class per registered route, strict public patterns, and doc/Api.md in agreement.
#include "Http/RouteTable.h"

#include <gtest/gtest.h>

#include <boost/regex.hpp>

#include <fstream>
#include <set>
#include <sstream>

using namespace Inbound;

namespace
{
  // A path that the route is meant to answer, its parameters filled with typical values.
  std::string MakeExample(const Route& route)
  {
    std::string path(route.path), result;
    size_t i = 0;
    while (i < path.size())
    {
      if (path[i] != '{')
      {
        result += path[i++];
        continue;
      }
      const size_t close = path.find('}', i);
      const std::string name = path.substr(i + 1, close - i - 1);
      if (name == "id")
        result += "K7QX2M9PLR4T";
      else if (name == "sha256")
        result += std::string(64, 'a');
      else if (name == "file*")
        result += "app.js";
      else if (name == "entry*")
        result += "203.0.113.0/24";
      else if (name == "token")
        result += "Zk3_xQ-9a7VtY2bN0cPq4rWs8uEfGhJi1LmOnD5e6Ko";
      else if (name == "study")
        result += "1.2.840.113619.2.55.3.604688119.971.1";
      else
        result += "x1";
      i = close + 1;
    }
    return result;
  }

  std::vector<std::string> SplitMethods(const Route& route)
  {
    std::vector<std::string> methods;
    std::stringstream list(route.methods == nullptr ? "GET" : route.methods);
    std::string method;
    while (std::getline(list, method, ','))
    {
      methods.push_back(method);
    }
    return methods;
  }

  Orthanc::HttpMethod ToMethod(const std::string& method)
  {
    return method == "POST" ? Orthanc::HttpMethod_Post :
           method == "PUT" ? Orthanc::HttpMethod_Put :
           method == "DELETE" ? Orthanc::HttpMethod_Delete : Orthanc::HttpMethod_Get;
  }

  // "`GET /inbound/admin/uploads?state=&since=&limit=`" -> "GET /inbound/admin/uploads".
  std::set<std::string> ReadDocumentedRoutes()
  {
    std::ifstream file(std::string(INBOUND_SOURCE_DIR) + "/doc/Api.md");
    std::stringstream text;
    text << file.rdbuf();
    const std::string content = text.str();
    static const boost::regex kRoute("`(GET|POST|PUT|DELETE) (/[^`?\\[ ]*)[^`]*`");
    std::set<std::string> routes;
    for (boost::sregex_iterator it(content.begin(), content.end(), kRoute), end; it != end; ++it)
    {
      std::string path = (*it)[2];
      if (path.size() > 1 && path.back() == '/')
      {
        path.pop_back();
      }
      routes.insert((*it)[1] + " " + path);
    }
    return routes;
  }

  std::string Documented(const std::string& method, const Route& route)
  {
    std::string path(route.path);
    for (size_t star = path.find("*}"); star != std::string::npos; star = path.find("*}"))
    {
      path.erase(star, 1);
    }
    if (path.size() > 1 && path.back() == '/')
    {
      path.pop_back();
    }
    return method + " " + path;
  }
}

TEST(RouteTable, EveryRouteIdHasExactlyOneRowInOrder)
{
  const std::vector<Route>& routes = GetRoutes();
  ASSERT_EQ(static_cast<size_t>(RouteId_Count), routes.size());
  for (size_t i = 0; i < routes.size(); i++)
  {
    EXPECT_EQ(static_cast<RouteId>(i), routes[i].id) << routes[i].path;
    EXPECT_EQ(&routes[i], &GetRoute(routes[i].id));
  }
}

TEST(RouteTable, EveryRegisteredPathBelongsToOneRouteAndItsClass)
{
  const std::vector<Route>& routes = GetRoutes();
  std::vector<boost::regex> orthancPatterns;
  for (const Route& route : routes)
  {
    orthancPatterns.emplace_back(GetOrthancPattern(route));
  }

  for (const Route& route : routes)
  {
    const std::string example = MakeExample(route);
    // Orthanc routes the example to this route's handler and to no other.
    for (size_t j = 0; j < routes.size(); j++)
    {
      EXPECT_EQ(&routes[j] == &route, boost::regex_match(example, orthancPatterns[j]))
        << example << " against " << routes[j].path;
    }
    // The filter sees the same route and gives it the route's one class.
    EXPECT_EQ(&route, MatchRoute(example)) << example;
    for (const std::string& method : SplitMethods(route))
    {
      const Orthanc::HttpMethod parsed = ToMethod(method);
      const RouteClass expected = (route.classForGetOnly && parsed != Orthanc::HttpMethod_Get)
                                    ? RouteClass_Admin : route.routeClass;
      EXPECT_EQ(expected, ClassifyRoute(parsed, example)) << method << " " << example;
    }
    if (route.classForGetOnly)
    {
      EXPECT_EQ(RouteClass_Admin, ClassifyRoute(Orthanc::HttpMethod_Post, example)) << example;
    }
  }
}

TEST(RouteTable, OrthancPatternsAreTheRegisteredOnes)
{
  EXPECT_EQ("/", GetOrthancPattern(GetRoute(RouteId_Root)));
  EXPECT_EQ("/inbound/?", GetOrthancPattern(GetRoute(RouteId_Page)));
  EXPECT_EQ("/inbound/app/(.+)", GetOrthancPattern(GetRoute(RouteId_Asset)));
  EXPECT_EQ("/inbound/api/uploads/([^/]+)/files/([^/]+)",
            GetOrthancPattern(GetRoute(RouteId_UploadFile)));
  EXPECT_EQ("/inbound/admin/bans/(.+)", GetOrthancPattern(GetRoute(RouteId_AdminBan)));
  EXPECT_EQ("/inbound/admin/ui/?", GetOrthancPattern(GetRoute(RouteId_AdminPage)));
}

TEST(RouteTable, OpenRoutesMatchOnlyStrictParameters)
{
  // Paths Orthanc would route to a public or peer handler, but that the filter does not
  // recognise as such: they are admin-class, so an anonymous client meets the login.
  for (const char* uri : {"/inbound/api/uploads/..", "/inbound/api/uploads/a.b",
                          "/inbound/api/uploads/ABC/files/..", "/inbound/app/.hidden",
                          "/inbound/app/a/b", "/inbound/api/uploads/ABC/files/a/b",
                          "/inbound/peer/outbox/A-B", "/inbound/peer/outbox/ABC/items/x%2F",
                          "/inbound/api/uploads/ABC/complete/", "/inbound/api/infox",
                          "/inbound//api/info", "/inbound/admin/ui//", "/inbound/unknown"})
  {
    EXPECT_EQ(RouteClass_Admin, ClassifyRoute(Orthanc::HttpMethod_Get, uri)) << uri;
    const Route* route = MatchRoute(uri);
    EXPECT_TRUE(route == nullptr || route->routeClass == RouteClass_Admin) << uri;
  }
  EXPECT_EQ(RouteClass_Admin,
            ClassifyRoute(Orthanc::HttpMethod_Get, "/inbound/api/uploads/" + std::string(65, 'A')));
  EXPECT_EQ(RouteClass_Public,
            ClassifyRoute(Orthanc::HttpMethod_Get, "/inbound/api/uploads/" + std::string(64, 'A')));
  EXPECT_EQ(RouteClass_Public, ClassifyRoute(Orthanc::HttpMethod_Get, "/inbound"));
  // A request link's token: URL-safe base64 of 16 to 128 characters, nothing else.
  const std::string token(43, 'A');
  for (const std::string& uri : std::vector<std::string>{
         "/inbound/r/" + std::string(15, 'A'), "/inbound/r/" + std::string(129, 'A'),
        "/inbound/r/" + token + "/x", "/inbound/r/" + token + ".", "/inbound/r/AAAAAAAAAAAAAAA%2F",
        "/inbound/api/requests/" + token + "/challenge/x", "/inbound/api/requests/..",
        "/inbound/api/requests/" + token + "=", "/inbound/r/"})
  {
    EXPECT_EQ(RouteClass_Admin, ClassifyRoute(Orthanc::HttpMethod_Get, uri)) << uri;
    EXPECT_EQ(RouteClass_Admin, ClassifyRoute(Orthanc::HttpMethod_Post, uri)) << uri;
  }
  EXPECT_EQ(RouteClass_Public, ClassifyRoute(Orthanc::HttpMethod_Get, "/inbound/r/" + token));
  EXPECT_EQ(RouteClass_Public,
            ClassifyRoute(Orthanc::HttpMethod_Post, "/inbound/api/requests/" + token + "/challenge"));
  EXPECT_EQ(RouteClass_Admin, ClassifyRoute(Orthanc::HttpMethod_Post, "/inbound/admin/requests"));
  EXPECT_EQ(RouteClass_Admin, ClassifyRoute(Orthanc::HttpMethod_Get, "/patients"));
}

TEST(RouteTable, APieceOfAnItemIsAPeerRouteOnlyWithAPlainNumber)
{
  const std::string item = "/inbound/peer/outbox/ABC/items/" + std::string(64, 'a') + "/parts/";
  EXPECT_EQ(RouteClass_Peer, ClassifyRoute(Orthanc::HttpMethod_Get, item + "0"));
  EXPECT_EQ(RouteClass_Peer, ClassifyRoute(Orthanc::HttpMethod_Get, item + "12345"));
  for (const std::string& n : std::vector<std::string>{"..", "1.5", "-1", "1/2", "", "%2F",
                                                      std::string(21, '1')})
  {
    EXPECT_EQ(RouteClass_Admin, ClassifyRoute(Orthanc::HttpMethod_Get, item + n)) << n;
  }
}

TEST(RouteTable, DocApiListsEveryRouteWithItsMethodsAndNoOther)
{
  const std::set<std::string> documented = ReadDocumentedRoutes();
  ASSERT_FALSE(documented.empty()) << "doc/Api.md not found under " << INBOUND_SOURCE_DIR;
  std::set<std::string> declared;
  for (const Route& route : GetRoutes())
  {
    for (const std::string& method : SplitMethods(route))
    {
      declared.insert(Documented(method, route));
      EXPECT_EQ(1u, documented.count(Documented(method, route)))
        << Documented(method, route) << " is not in doc/Api.md";
    }
  }
  for (const std::string& route : documented)
  {
    if (route.compare(0, 13, "GET /inbound/") == 0 || route.find(" /inbound/") != std::string::npos ||
        route == "GET /")
    {
      EXPECT_EQ(1u, declared.count(route)) << route << " is in doc/Api.md but not in the table";
    }
  }
}

TEST(RouteTable, RequestTokensAreMaskedWhereverAPathIsWritten)
{
  const std::string token = "abcDEF0123456789_-abcDEF0123456789_-abcdef";
  EXPECT_EQ("/inbound/r/-", MaskRequestTokens("/inbound/r/" + token));
  EXPECT_EQ("/inbound/api/requests/-/challenge: This request link was withdrawn",
            MaskRequestTokens("/inbound/api/requests/" + token +
                              "/challenge: This request link was withdrawn"));
  EXPECT_EQ("/inbound/api/requests/-?x=1 and /inbound/r/- again",
            MaskRequestTokens("/inbound/api/requests/" + token + "?x=1 and /inbound/r/" +
                              token + " again"));
  // Whatever a forged token holds.
  EXPECT_EQ("/inbound/r/-/x", MaskRequestTokens("/inbound/r/%00<script>\x01/x"));
  // Other paths, and the bare prefixes, are as they were.
  EXPECT_EQ("/inbound/api/uploads/ABC/files/ff", MaskRequestTokens("/inbound/api/uploads/ABC/files/ff"));
  EXPECT_EQ("/inbound/r/", MaskRequestTokens("/inbound/r/"));
  EXPECT_EQ("", MaskRequestTokens(""));
}

TEST(RouteTable, PartnerRoutesAreChunkedPostOnlyWithStrictStudyUids)
{
  EXPECT_STREQ("partner", EnumerationToString(RouteClass_Partner));
  EXPECT_TRUE(IsChunkedRoute(GetRoute(RouteId_PartnerStudies)));
  EXPECT_TRUE(IsChunkedRoute(GetRoute(RouteId_PartnerStudy)));
  size_t chunked = 0;
  for (const Route& route : GetRoutes())
  {
    chunked += IsChunkedRoute(route) ? 1 : 0;
  }
  EXPECT_EQ(2u, chunked);  // no other route takes chunked bodies
  EXPECT_EQ(RouteClass_Partner, ClassifyRoute(Orthanc::HttpMethod_Post, "/inbound/dicom-web/studies"));
  EXPECT_EQ(RouteClass_Partner, ClassifyRoute(Orthanc::HttpMethod_Post, "/inbound/dicom-web/studies/1.2.3"));
  EXPECT_EQ(RouteClass_Partner,
            ClassifyRoute(Orthanc::HttpMethod_Post, "/inbound/dicom-web/studies/" + std::string(64, '1')));
  for (const std::string& uri : std::vector<std::string>{
         "/inbound/dicom-web/studies/" + std::string(65, '1'), "/inbound/dicom-web/studies/1.2.a",
         "/inbound/dicom-web/studies/1..2", "/inbound/dicom-web/studies/.1", "/inbound/dicom-web/studies/1.",
         "/inbound/dicom-web/studies/1." + std::string(63, '1'),
         "/inbound/dicom-web/studies/1.2/series", "/inbound/dicom-web/studies/..",
         "/inbound/dicom-web/studies/1.2%2F3", "/inbound/dicom-web/instances", "/inbound/dicom-web",
         "/dicom-web/studies", "/inbound/dicom-web/studies/"})
  {
    EXPECT_EQ(RouteClass_Admin, ClassifyRoute(Orthanc::HttpMethod_Post, uri)) << uri;
  }
}

TEST(RouteTable, APartnersPageNeverTakesTheTokenRoute)
{
  const Route* token = MatchRoute("/inbound/admin/partners/token");
  ASSERT_NE(nullptr, token);
  EXPECT_EQ(RouteId_AdminPartnerToken, token->id);
  const Route* partner = MatchRoute("/inbound/admin/partners/clinic-a2");
  ASSERT_NE(nullptr, partner);
  EXPECT_EQ(RouteId_AdminPartner, partner->id);
  EXPECT_EQ(RouteId_AdminPartner, MatchRoute("/inbound/admin/partners/tokens")->id);
  const boost::regex orthanc(GetOrthancPattern(GetRoute(RouteId_AdminPartner)));
  EXPECT_FALSE(boost::regex_match(std::string("/inbound/admin/partners/token"), orthanc));
  EXPECT_TRUE(boost::regex_match(std::string("/inbound/admin/partners/token2"), orthanc));
  // Not an id of Inbound.Partners: no route, so the admin class (credentials) all the same.
  EXPECT_EQ(nullptr, MatchRoute("/inbound/admin/partners/Clinic_A"));
  EXPECT_EQ(nullptr, MatchRoute("/inbound/admin/partners/" + std::string(33, 'a')));
  EXPECT_EQ(RouteClass_Admin,
            ClassifyRoute(Orthanc::HttpMethod_Get, "/inbound/admin/partners/Clinic_A"));
}
