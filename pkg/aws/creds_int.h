/*
 * creds_int.h - private to pkg/aws/creds*.c; not a manual for callers (creds.h is).
 *
 * The provider (creds.c: cache, background refresh) and the chain's sources
 * (creds_sources.c: environment, profiles, STS, container, IMDS) share the
 * source names and one fetch function.
 */
#ifndef AWS_CREDS_INT_H
#define AWS_CREDS_INT_H

#include <stdint.h>

#include "pkg/aws/creds.h"

enum aws_creds_source {
	CREDS_SRC_NONE,
	CREDS_SRC_STATIC,
	CREDS_SRC_ENV,
	CREDS_SRC_ASSUME_ROLE,
	CREDS_SRC_WEB_IDENTITY,
	CREDS_SRC_PROFILE,
	CREDS_SRC_CONTAINER,
	CREDS_SRC_IMDS,
};

/* What a fetch needs from the provider's options (strings borrowed; NULL = from the environment). */
struct aws_creds_where {
	char *region;
	char *profile;
	int64_t http_timeout_ms;
};

/*
 * Fresh credentials from one source into *out (caller releases): 0,
 * BASE_ENOTFOUND when the source is not configured, or the failure with err
 * filled. Blocks for the source's network I/O; takes no lock.
 */
int aws_creds_fetch(const struct aws_creds_where *w, enum aws_creds_source src,
		    struct aws_creds *out, struct aws_error *err);

#endif
