// The handlers of the route table's routes (Http/RouteTable.h), bound to them in Routes.cpp.
#pragma once

#include "Orthanc/RestCall.h"
#include "Upload/UploadService.h"

#include <string>

namespace Inbound
{
  // Each handler is called once the access filter let the request in, the refusals it left to
  // the handler were checked and the method is one its route answers (Routes.cpp, Handle).
  namespace Handlers
  {
    // The sender as the audit trail records it: the address the filter resolved, the agent.
    ClientInfo GetClient(const RestCall& call);

    // The Content-Type of an embedded file, by its extension.
    std::string GetMime(const std::string& path);

    // PublicHandlers.cpp: the login, the upload page and the public upload API.
    void ServeRoot(RestCall& call);
    void ServeAuth(RestCall& call);
    void ServePage(RestCall& call);
    void ServeAsset(RestCall& call);
    void ApiInfo(RestCall& call);
    void ApiLogo(RestCall& call);
    void ApiOpen(RestCall& call);
    void ApiUpload(RestCall& call);
    void ApiFile(RestCall& call);
    void ApiComplete(RestCall& call);
    void ApiPart(RestCall& call);
    void ApiAssemble(RestCall& call);
    void ServeRequestPage(RestCall& call);
    void ApiRequestLink(RestCall& call);
    void ApiRequestChallenge(RestCall& call);

    // AdminHandlers.cpp: the admin API and the admin page.
    void AdminUploads(RestCall& call);
    void AdminUpload(RestCall& call);
    void AdminLimits(RestCall& call);
    void AdminLift(RestCall& call);
    void AdminBans(RestCall& call);
    void AdminBan(RestCall& call);
    void AdminNotifications(RestCall& call);
    void AdminNotificationRetry(RestCall& call);
    void AdminModalities(RestCall& call);
    void AdminStudy(RestCall& call);
    void AdminRelease(RestCall& call);
    void AdminCandidates(RestCall& call);
    void AdminForwards(RestCall& call);
    void AdminForwardRetry(RestCall& call);
    void ServeAdminPage(RestCall& call);
    void ServeAdminFile(RestCall& call);
    void AdminGateways(RestCall& call);
    void AdminReleaseHeldPull(RestCall& call);
    void AdminSealing(RestCall& call);
    void AdminAudit(RestCall& call);
    void AdminRequests(RestCall& call);
    void AdminRequest(RestCall& call);

    // PartnerAdminHandlers.cpp: the partner sites as the admin sees them, new partner tokens.
    void AdminPartners(RestCall& call);
    void AdminPartner(RestCall& call);
    void AdminPartnerToken(RestCall& call);

    // PeerHandlers.cpp: a gateway's outbox and request links, for the Internal's pullers.
    void PeerOutbox(RestCall& call);
    void PeerManifest(RestCall& call);
    void PeerItem(RestCall& call);
    void PeerItemPart(RestCall& call);
    void PeerAck(RestCall& call);
    void PeerRequests(RestCall& call);
  }
}
