// What the S3 remote makes of version answers: a ListObjectVersions page turned into the
// remote's ObjectVersions, and the check that a GET of a version got that version.
#pragma once

#include <string_view>
#include <vector>

#include "core/error.h"
#include "remote/remote.h"
#include "s3/xml.h"

namespace cfgsync::s3 {

// The entries of one ListObjectVersions page whose full key starts with `strip` (the remote's
// root, "" or "prefix/"), with `strip` removed from their keys, sorted by key, then the latest
// first, then newest first. Entries that tie (servers with one-second LastModified, such as
// moto) keep the page's order. Pure function.
std::vector<ObjectVersion> VersionsOfPage(std::vector<VersionEntry> entries,
                                          std::string_view strip);

/* A server without versions may answer a GET with ?versionId= with the latest content, as if
 * the parameter were not there (s3rver 4 does). S3 names the version it served in
 * x-amz-version-id, except for the "null" version of an unversioned bucket. */
// Success when a GET asking for version `requested` was answered by a response whose
// x-amz-version-id header is `answered` ("" when absent): they match, or "null" was asked and
// no version was named. No version named otherwise: kUnsupported (the server ignored the
// version); another version named: kProtocol. `what` starts the message. Pure function.
Status CheckServedVersion(std::string_view what, std::string_view requested,
                          std::string_view answered);

}  // namespace cfgsync::s3
