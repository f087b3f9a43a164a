/*
 * review.h - who may read an HTTP endpoint, asked of the apiserver as
 * controller-runtime's secure metrics ask it
 * (filters.WithAuthenticationAndAuthorization):
 *
 *   bearer token -> TokenReview (authentication.k8s.io/v1): who is it?
 *   user, groups -> SubjectAccessReview (authorization.k8s.io/v1) with
 *                   nonResourceAttributes {path, verb}: may they?
 *
 * A reviewer guards one path and verb ("/metrics", "get"), so a decision
 * depends on the token alone and is cached under an HMAC-SHA256 of it (a
 * random key per process: the cache holds no token and is no guessing
 * oracle). Decisions live briefly: allowed KUBE_REVIEW_ALLOW_TTL_MS, denied
 * KUBE_REVIEW_DENY_TTL_MS, unauthenticated KUBE_REVIEW_UNAUTH_TTL_MS; a
 * failed call to the apiserver is not cached. At most KUBE_REVIEW_CACHE
 * entries; a full cache drops its oldest.
 *
 * The controller's ServiceAccount needs create on tokenreviews and
 * subjectaccessreviews (manifests/components/metrics-auth).
 *
 * Thread-safety: kube_review may be called from many threads at once.
 */
#ifndef KUBE_REVIEW_H
#define KUBE_REVIEW_H

#include <stddef.h>
#include <stdint.h>

#include "pkg/kube/rest.h"

#define KUBE_REVIEW_ALLOW_TTL_MS 60000
#define KUBE_REVIEW_DENY_TTL_MS 30000
#define KUBE_REVIEW_UNAUTH_TTL_MS 10000
#define KUBE_REVIEW_TIMEOUT_MS 5000 /* each call to the apiserver */
#define KUBE_REVIEW_CACHE 256
#define KUBE_REVIEW_MAX_TOKEN 8192

enum kube_review_result {
	KUBE_REVIEW_ALLOWED = 0,
	KUBE_REVIEW_UNAUTHENTICATED = 1, /* no token, or the apiserver did not accept it */
	KUBE_REVIEW_DENIED = 2,		 /* a known user without the permission */
};

struct kube_reviewer;

/* client is borrowed and must outlive the reviewer; path and verb are copied. */
struct kube_reviewer *kube_reviewer_new(struct kube_client *client, const char *path,
					const char *verb);
void kube_reviewer_free(struct kube_reviewer *r);

/*
 * Decides for token (NULL or "" = none). Returns an enum kube_review_result,
 * with the user's name in user (size n, "" when unknown) for a message, or a
 * negative base error code when the apiserver could not be asked (then why
 * it is in user).
 */
int kube_review(struct kube_reviewer *r, const char *token, char *user, size_t n);

#endif
