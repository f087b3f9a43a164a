/*
 * metrics_auth.h - --metrics-auth: /metrics answers only callers whose bearer
 * token the apiserver accepts (TokenReview) and who may get the non-resource
 * URL /metrics (SubjectAccessReview), as controller-runtime's secure metrics
 * do. The controller's own kube client asks (pkg/kube/review.h); answers:
 *
 *   200  the metrics
 *   401  no token, or one the apiserver does not accept
 *   403  a known user without get on /metrics
 *        (the ClusterRole globaldb-controller-metrics-reader grants it)
 *   500  the apiserver could not be asked (logged as a warning)
 *
 * Counted in globaldb_metrics_auth_total{result="allowed|unauthenticated|
 * denied|error"}.
 */
#ifndef GDB_CMD_METRICS_AUTH_H
#define GDB_CMD_METRICS_AUTH_H

#include <stddef.h>

struct metrics_auth;

/*
 * Loads the Kubernetes config as the controller does (kubeconfig, "" = in
 * cluster, then $KUBECONFIG, ~/.kube/config). 0, or a negative code (logged).
 */
int metrics_auth_new(const char *kubeconfig, struct metrics_auth **out);
void metrics_auth_free(struct metrics_auth *a);

/* A server_authorize_fn; ud is the struct metrics_auth. */
int metrics_auth_decide(void *ud, const char *token, char *why, size_t n);

#endif
