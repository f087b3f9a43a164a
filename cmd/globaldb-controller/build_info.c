/*
 * build_info.c - see build_info.h.
 */
#include "cmd/globaldb-controller/build_info.h"

#include <curl/curl.h>
#include <libpq-fe.h>
#include <openssl/crypto.h>
#include <stdio.h>

#include "pkg/base/metrics.h"

#ifndef GDB_COMMIT
#define GDB_COMMIT "unknown"
#endif

void build_info_get(struct build_info *bi)
{
	const curl_version_info_data *cv = curl_version_info(CURLVERSION_NOW);
	int pq = PQlibVersion(); /* 150018 for 15.18 */

	snprintf(bi->version, sizeof(bi->version), "%s", GDB_VERSION);
	snprintf(bi->commit, sizeof(bi->commit), "%s", GDB_COMMIT);
	snprintf(bi->libcurl, sizeof(bi->libcurl), "%s", cv && cv->version ? cv->version : "");
	snprintf(bi->openssl, sizeof(bi->openssl), "%s", OpenSSL_version(OPENSSL_VERSION_STRING));
	snprintf(bi->libpq, sizeof(bi->libpq), "%d.%d", pq / 10000, pq % 10000);
}

void build_info_publish(const struct build_info *bi)
{
	struct base_metric *m =
		base_metric_gauge("globaldb_build_info",
				  "A constant 1, labelled with the controller's version and commit "
				  "and the versions of the libraries linked into it",
				  "version,commit,libcurl,openssl,libpq");

	base_metric_set(m, 1, bi->version, bi->commit, bi->libcurl, bi->openssl, bi->libpq);
}
