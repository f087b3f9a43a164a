/*
 * executor.h - performs the one action the planner chose.
 *
 * gdb_execute() runs a struct gdb_action against AWS (RDS in the action's
 * region, Route 53, SSM in every region, ECS in each service's region) and
 * Kubernetes (Deployment and StatefulSet restarts by setting
 * spec.template.metadata.annotations["kubectl.kubernetes.io/restartedAt"],
 * as `kubectl rollout restart` does), and reports how it ended as the
 * planner's enum gdb_call plus the AWS error code, which the reconciler
 * hands back to the planner in struct gdb_obs_last_result on the next round.
 * Failures are also recorded as Warning Events on the object, with the AWS
 * code and message (never a credential: neither carries one).
 *
 * Idempotence is the planner's business (it guards every non-idempotent call
 * by observation); the executor adds none of its own, except that a
 * workload restart tolerates missing workloads (a Warning Event names them)
 * and SSM publication skips regions whose API does not answer (the writer's
 * region must succeed), so that a lost region never blocks the runbook. ECS
 * restarts go on past a failed service: every service not in
 * action->ecs_skip is tried once per call, and the result lists the ones
 * restarted and those whose region (not the writer's) did not answer; the
 * call fails only for other errors, naming the services it failed for. The
 * planner decides what a retry skips and when the dead region's services
 * are given up.
 *
 * Actions without a call (None, Wait, WaitDnsInsync: the observation reads
 * GetChange, RecommendFailover) return OK at once; RemoveFinalizer is the
 * reconciler's (it needs the object's resourceVersion).
 *
 * Thread-safety: as the clients; the context is borrowed for the call.
 */
#ifndef GDB_EXECUTOR_H
#define GDB_EXECUTOR_H

#include <jansson.h>

#include "pkg/aws/client.h"
#include "pkg/globaldb/planner.h"
#include "pkg/kube/events.h"
#include "pkg/kube/rest.h"

struct gdb_exec_ctx {
	struct aws_client *aws;		/* borrowed */
	struct kube_client *kube;	/* borrowed */
	struct kube_recorder *recorder; /* borrowed; may be NULL (no Events) */
	json_t *obj;			/* the GlobalDatabase (borrowed): Events regard it */
	const struct gdb_spec *spec;	/* borrowed */
};

struct gdb_exec_result {
	enum gdb_call call;
	char aws_code[128];
	char message[512];
	char *change_id; /* UPSERT_DNS: the Route 53 change id (owned) */
	/* RESTART_WORKLOADS (owned, NULL = none): as struct gdb_obs_last_result. */
	char *ecs_restarted;
	char *ecs_unreachable;
};

/* Runs a (borrowed) and fills *out (zeroed first; release with gdb_exec_result_release). */
void gdb_execute(const struct gdb_exec_ctx *x, const struct gdb_action *a,
		 struct gdb_exec_result *out);
void gdb_exec_result_release(struct gdb_exec_result *r);

/* True when the action calls AWS (everything but None, Wait, Recommend, RemoveFinalizer). */
int gdb_action_calls_aws(enum gdb_action_kind kind);

#endif
