/*
 * The glue between the metrics server's authorizer hook and the reviewer:
 * a kube client of its own (the reconciler's is created later, in another
 * phase), and review results turned into HTTP statuses.
 */
#include "cmd/globaldb-controller/metrics_auth.h"

#include <stdio.h>
#include <stdlib.h>

#include "pkg/base/alloc.h"
#include "pkg/base/err.h"
#include "pkg/base/log.h"
#include "pkg/base/metrics.h"
#include "pkg/kube/config.h"
#include "pkg/kube/rest.h"
#include "pkg/kube/review.h"

struct metrics_auth {
	struct kube_client *client;
	struct kube_reviewer *reviewer;
	struct base_metric *total;
};

static int load_config(const char *path, struct kube_config **cfg)
{
	char *msg = NULL;
	int rc;

	rc = kube_config_load_default(path, cfg, &msg);
	if (rc < 0)
		base_log(BASE_LOG_ERROR, "metrics auth: cannot load the kubernetes config", "error",
			 msg ? msg : base_strerror(rc), NULL);
	free(msg);
	return rc;
}

int metrics_auth_new(const char *kubeconfig, struct metrics_auth **out)
{
	struct kube_client_opts co = {.timeout_ms = KUBE_REVIEW_TIMEOUT_MS};
	struct kube_config *cfg = NULL;
	struct metrics_auth *a;
	int rc;

	*out = NULL;
	if ((rc = load_config(kubeconfig, &cfg)) < 0)
		return rc;
	a = xcalloc(1, sizeof(*a));
	if ((rc = kube_client_new(cfg, &co, &a->client)) < 0) {
		base_log(BASE_LOG_ERROR, "metrics auth: cannot create the kubernetes client",
			 "error", base_strerror(rc), NULL);
		free(a);
		return rc;
	}
	a->reviewer = kube_reviewer_new(a->client, "/metrics", "get");
	a->total = base_metric_counter(
		"globaldb_metrics_auth_total",
		"Requests for /metrics by the outcome of their TokenReview and SubjectAccessReview",
		"result");
	for (size_t i = 0; i < 4; i++)
		base_metric_add(
			a->total, 0,
			(const char *[]){"allowed", "unauthenticated", "denied", "error"}[i]);
	*out = a;
	return 0;
}

void metrics_auth_free(struct metrics_auth *a)
{
	if (!a)
		return;
	kube_reviewer_free(a->reviewer);
	kube_client_free(a->client);
	free(a);
}

int metrics_auth_decide(void *ud, const char *token, char *why, size_t n)
{
	struct metrics_auth *a = ud;
	char user[512];
	int rc = kube_review(a->reviewer, token, user, sizeof(user));

	switch (rc) {
	case KUBE_REVIEW_ALLOWED:
		base_metric_add(a->total, 1, "allowed");
		return 200;
	case KUBE_REVIEW_UNAUTHENTICATED:
		base_metric_add(a->total, 1, "unauthenticated");
		snprintf(why, n,
			 "Unauthorized: send a ServiceAccount token the apiserver accepts "
			 "(Authorization: Bearer <token>)");
		return 401;
	case KUBE_REVIEW_DENIED:
		base_metric_add(a->total, 1, "denied");
		snprintf(why, n,
			 "Forbidden: user %.200s may not get /metrics (bind the ClusterRole "
			 "globaldb-controller-metrics-reader)",
			 user);
		return 403;
	default:
		base_metric_add(a->total, 1, "error");
		base_log(BASE_LOG_WARN, "metrics auth: cannot review a /metrics request", "error",
			 user, NULL);
		snprintf(why, n,
			 "Internal Server Error: the controller could not ask the "
			 "apiserver who may read /metrics (see its log)");
		return 500;
	}
}
