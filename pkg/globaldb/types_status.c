/*
 * The status: the names of its enums, decoding (the decoding helpers are in
 * types.c), encoding, copying, release and lookups.
 */
#include "pkg/globaldb/types_int.h"

#include <inttypes.h>
#include <stdio.h>
#include <string.h>
#include <strings.h>

#include "pkg/base/alloc.h"
#include "pkg/base/err.h"
#include "pkg/base/timeutil.h"

/* ---- names ---- */

static const char *const role_names[] = {"Unknown",  "Primary", "Secondary",
					 "Detached", "Lost",	"Rebuilding"};
static const char *const op_type_names[] = {NULL, "Switchover", "Failover", "Fallback"};
static const char *const op_method_names[] = {NULL, "Switchover", "Managed", "DetachAndPromote"};
static const char *const result_names[] = {NULL, "Succeeded", "Failed", "Cancelled"};
static const char *const cond_names[] = {"Unknown", "True", "False"};
static const char *const step_names[GDB_STEP__COUNT] = {
	[GDB_STEP_NONE] = NULL,
	[GDB_STEP_AWAITING_APPROVAL] = "AwaitingApproval",
	[GDB_STEP_SWITCHOVER] = "Switchover",
	[GDB_STEP_WAIT_SWITCHOVER] = "WaitSwitchover",
	[GDB_STEP_FAILOVER_MANAGED] = "FailoverManaged",
	[GDB_STEP_WAIT_FAILOVER] = "WaitFailover",
	[GDB_STEP_DETACH] = "Detach",
	[GDB_STEP_WAIT_PROMOTED] = "WaitPromoted",
	[GDB_STEP_UPDATE_DNS] = "UpdateDns",
	[GDB_STEP_WAIT_DNS_INSYNC] = "WaitDnsInsync",
	[GDB_STEP_PUBLISH_SSM] = "PublishSsm",
	[GDB_STEP_RESTART_WORKLOADS] = "RestartWorkloads",
	[GDB_STEP_FENCE_OLD_WRITER] = "FenceOldWriter",
	[GDB_STEP_DELETE_OLD_GLOBAL_CLUSTER] = "DeleteOldGlobalCluster",
	[GDB_STEP_CREATE_GLOBAL_CLUSTER] = "CreateGlobalCluster",
	[GDB_STEP_CREATE_SECONDARY] = "CreateSecondary",
	[GDB_STEP_CREATE_INSTANCES] = "CreateInstances",
	[GDB_STEP_WAIT_CONNECTED] = "WaitConnected",
	[GDB_STEP_WAIT_READDED] = "WaitReAdded",
	[GDB_STEP_COPY_SNAPSHOT] = "CopySnapshot",
};

const char *gdb_role_name(enum gdb_role r)
{
	return (unsigned)r < ARRAY_SIZE(role_names) ? role_names[r] : "Unknown";
}

const char *gdb_op_type_name(enum gdb_op_type t)
{
	return (unsigned)t < ARRAY_SIZE(op_type_names) && op_type_names[t] ? op_type_names[t] : "";
}

const char *gdb_op_method_name(enum gdb_op_method m)
{
	return (unsigned)m < ARRAY_SIZE(op_method_names) && op_method_names[m] ? op_method_names[m]
									       : "";
}

const char *gdb_op_result_name(enum gdb_op_result r)
{
	return (unsigned)r < ARRAY_SIZE(result_names) && result_names[r] ? result_names[r] : "";
}

const char *gdb_step_name(enum gdb_step s)
{
	return (unsigned)s < GDB_STEP__COUNT && step_names[s] ? step_names[s] : "";
}

int gdb_step_parse(const char *name)
{
	for (int i = 1; i < GDB_STEP__COUNT; i++)
		if (name && strcmp(step_names[i], name) == 0)
			return i;
	return -1;
}

const char *gdb_cond_status_name(enum gdb_cond_status s)
{
	return (unsigned)s < ARRAY_SIZE(cond_names) ? cond_names[s] : "Unknown";
}

/* ---- status ---- */

static int decode_steps(struct dctx *c, const json_t *o, struct gdb_operation *op)
{
	json_t *arr;
	int rc = get_arr(c, o, "steps", GDB_MAX_STEPS, &arr);

	for (size_t i = 0; rc == 0 && arr && i < json_array_size(arr); i++) {
		json_t *s = json_array_get(arr, i);
		struct gdb_step_record *r = &op->steps[op->n_steps++];
		size_t old = push(c, "steps", (long)i);

		if (!json_is_object(s))
			rc = fail(c, NULL, "must be an object");
		else if ((rc = get_str(c, s, "name", 0, &r->name)) == 0)
			rc = get_int(c, s, "durationSeconds", 0, 0, INT64_MAX / 2,
				     &r->duration_seconds);
		pop(c, old);
	}
	return rc;
}

static int decode_restarted(struct dctx *c, const json_t *o, struct gdb_operation *op)
{
	json_t *arr;
	int rc = get_arr(c, o, "restartedEcsServices", GDB_MAX_WORKLOADS, &arr);

	for (size_t i = 0; rc == 0 && arr && i < json_array_size(arr); i++) {
		json_t *s = json_array_get(arr, i);
		size_t old = push(c, "restartedEcsServices", (long)i);

		if (!json_is_string(s) || json_string_length(s) > GDB_MAX_STRING ||
		    strlen(json_string_value(s)) != json_string_length(s))
			rc = fail(c, NULL, "must be a string without NUL bytes");
		else
			op->restarted_ecs[op->n_restarted_ecs++] = xstrdup(json_string_value(s));
		pop(c, old);
	}
	return rc;
}

static int decode_operation(struct dctx *c, const json_t *o, struct gdb_operation *op, int last)
{
	char *step = NULL;
	int v, rc;

	if ((rc = get_int(c, o, "id", 0, 0, INT64_MAX / 2, &op->id)) < 0 ||
	    (rc = get_enum(c, o, "type", op_type_names, 4, 0, &v)) < 0)
		return rc;
	op->type = v;
	if ((rc = get_enum(c, o, "method", op_method_names, 4, 0, &v)) < 0)
		return rc;
	op->method = v;
	if ((rc = get_str(c, o, "targetRegion", 0, &op->target_region)) < 0 ||
	    (rc = get_str(c, o, "sourceRegion", 0, &op->source_region)) < 0 ||
	    (rc = get_time(c, o, "startedTime", &op->started_ms)) < 0 ||
	    (rc = get_time(c, o, "stepStartedTime", &op->step_started_ms)) < 0 ||
	    (rc = get_int32(c, o, "attempts", 0, 0, 1000000, &op->attempts)) < 0 ||
	    (rc = get_str(c, o, "message", 0, &op->message)) < 0 ||
	    (!last && (rc = get_str(c, o, "lastAction", 0, &op->last_action)) < 0) ||
	    (!last && (rc = get_time(c, o, "lastCallTime", &op->last_call_ms)) < 0) ||
	    (rc = get_str(c, o, "globalClusterIdentifier", 0, &op->global_cluster_identifier)) <
		    0 ||
	    (rc = get_str(c, o, "dnsChangeId", 0, &op->dns_change_id)) < 0 ||
	    (rc = get_int(c, o, "dataLossWindowSeconds", -1, 0, INT64_MAX / 2,
			  &op->data_loss_window_seconds)) < 0 ||
	    (rc = get_str(c, o, "lostWritesSnapshot", 0, &op->lost_writes_snapshot)) < 0 ||
	    (rc = decode_steps(c, o, op)) < 0 || (rc = decode_restarted(c, o, op)) < 0)
		return rc;
	if (last) {
		if ((rc = get_enum(c, o, "result", result_names, 4, 0, &v)) < 0)
			return rc;
		op->result = v;
		return get_time(c, o, "finishedTime", &op->finished_ms);
	}
	if ((rc = get_str(c, o, "step", 0, &step)) < 0)
		return rc;
	if (step) {
		v = gdb_step_parse(step);
		free(step);
		if (v < 0)
			return fail(c, "step", "unknown step");
		op->step = v;
	}
	if (op->type != GDB_OP_NONE && op->step == GDB_STEP_NONE)
		return fail(c, "step", "required when type is set");
	return 0;
}

static int decode_region_status(struct dctx *c, const json_t *o, struct gdb_region_status *r)
{
	int v, rc;

	r->replication_lag_seconds = -1;
	r->writer_healthy = -1;
	if (!json_is_object(o))
		return fail(c, NULL, "must be an object");
	if ((rc = get_str(c, o, "name", 1, &r->name)) < 0 ||
	    (rc = get_enum(c, o, "role", role_names, 6, 0, &v)) < 0)
		return rc;
	r->role = v;
	if ((rc = get_str(c, o, "dbClusterIdentifier", 0, &r->db_cluster_identifier)) < 0 ||
	    (rc = get_str(c, o, "clusterStatus", 0, &r->cluster_status)) < 0 ||
	    (rc = get_time(c, o, "clusterStatusSince", &r->cluster_status_since_ms)) < 0 ||
	    (rc = get_str(c, o, "synchronizationStatus", 0, &r->synchronization_status)) < 0 ||
	    (rc = get_bool(c, o, "writerHealthy", &r->writer_healthy)) < 0 ||
	    (rc = get_int32(c, o, "consecutiveFailures", 0, 0, 1000000000,
			    &r->consecutive_failures)) < 0 ||
	    (rc = get_time(c, o, "lastProbeTime", &r->last_probe_ms)) < 0 ||
	    (rc = get_int32(c, o, "port", 0, 0, 65535, &r->port)) < 0 ||
	    (rc = get_int(c, o, "heartbeatSeq", 0, 0, INT64_MAX / 2, &r->heartbeat_seq)) < 0 ||
	    (rc = get_time(c, o, "heartbeatTime", &r->heartbeat_time_ms)) < 0 ||
	    (rc = get_time(c, o, "writerFailingSince", &r->writer_failing_since_ms)) < 0)
		return rc;
	return get_int(c, o, "replicationLagSeconds", -1, 0, INT64_MAX / 2,
		       &r->replication_lag_seconds);
}

static int decode_condition(struct dctx *c, const json_t *o, struct gdb_condition *cd)
{
	int v, rc;

	if (!json_is_object(o))
		return fail(c, NULL, "must be an object");
	if ((rc = get_str(c, o, "type", 1, &cd->type)) < 0 ||
	    (rc = get_enum(c, o, "status", cond_names, 3, 0, &v)) < 0)
		return rc;
	cd->status = v;
	if ((rc = get_int(c, o, "observedGeneration", 0, 0, INT64_MAX, &cd->observed_generation)) <
		    0 ||
	    (rc = get_time(c, o, "lastTransitionTime", &cd->last_transition_ms)) < 0 ||
	    (rc = get_str(c, o, "reason", 0, &cd->reason)) < 0)
		return rc;
	return get_str(c, o, "message", 0, &cd->message);
}

int gdb_status_decode(const json_t *status, struct gdb_status *out, char *err, size_t errlen)
{
	struct dctx c = {.path = "status", .err = err, .errlen = errlen};
	json_t *arr, *o;
	size_t old;
	int rc;

	memset(out, 0, sizeof(*out));
	out->max_replication_lag_seconds = -1;
	out->operation.data_loss_window_seconds = -1;
	out->last_operation.data_loss_window_seconds = -1;
	if (err && errlen)
		err[0] = '\0';
	if (!status || json_is_null(status))
		return 0;
	if (!json_is_object(status))
		return fail(&c, NULL, "must be an object");
	if ((rc = get_int(&c, status, "observedGeneration", 0, 0, INT64_MAX,
			  &out->observed_generation)) < 0 ||
	    (rc = get_str(&c, status, "globalClusterIdentifier", 0,
			  &out->global_cluster_identifier)) < 0 ||
	    (rc = get_int(&c, status, "generation", 0, 0, 1000000, &out->generation)) < 0 ||
	    (rc = get_str(&c, status, "currentPrimaryRegion", 0, &out->current_primary_region)) <
		    0 ||
	    (rc = get_str(&c, status, "writerEndpoint", 0, &out->writer_endpoint)) < 0 ||
	    (rc = get_str(&c, status, "globalWriterEndpoint", 0, &out->global_writer_endpoint)) <
		    0 ||
	    (rc = get_int(&c, status, "maxReplicationLagSeconds", -1, 0, INT64_MAX / 2,
			  &out->max_replication_lag_seconds)) < 0 ||
	    (rc = get_time(&c, status, "lastFailoverTime", &out->last_failover_ms)) < 0 ||
	    (rc = get_time(&c, status, "lastPausedTime", &out->last_paused_ms)) < 0)
		return rc;

	if ((rc = get_arr(&c, status, "readerEndpoints", GDB_MAX_REGIONS, &arr)) < 0)
		return rc;
	for (size_t i = 0; arr && i < json_array_size(arr); i++) {
		struct gdb_reader_endpoint *e = &out->reader_endpoints[out->n_reader_endpoints++];

		o = json_array_get(arr, i);
		old = push(&c, "readerEndpoints", (long)i);
		if (!json_is_object(o))
			rc = fail(&c, NULL, "must be an object");
		else if ((rc = get_str(&c, o, "region", 1, &e->region)) == 0)
			rc = get_str(&c, o, "endpoint", 0, &e->endpoint);
		pop(&c, old);
		if (rc < 0)
			return rc;
	}

	if ((rc = get_arr(&c, status, "regions", GDB_MAX_REGIONS, &arr)) < 0)
		return rc;
	for (size_t i = 0; arr && i < json_array_size(arr); i++) {
		old = push(&c, "regions", (long)i);
		rc = decode_region_status(&c, json_array_get(arr, i),
					  &out->regions[out->n_regions++]);
		pop(&c, old);
		if (rc < 0)
			return rc;
	}

	if ((rc = get_obj(&c, status, "operation", 0, &o)) < 0)
		return rc;
	if (o) {
		old = push(&c, "operation", -1);
		rc = decode_operation(&c, o, &out->operation, 0);
		pop(&c, old);
		if (rc < 0)
			return rc;
	}
	if ((rc = get_obj(&c, status, "lastOperation", 0, &o)) < 0)
		return rc;
	if (o) {
		old = push(&c, "lastOperation", -1);
		rc = decode_operation(&c, o, &out->last_operation, 1);
		pop(&c, old);
		if (rc < 0)
			return rc;
	}

	if ((rc = get_arr(&c, status, "conditions", GDB_MAX_CONDITIONS, &arr)) < 0)
		return rc;
	for (size_t i = 0; arr && i < json_array_size(arr); i++) {
		old = push(&c, "conditions", (long)i);
		rc = decode_condition(&c, json_array_get(arr, i),
				      &out->conditions[out->n_conditions++]);
		pop(&c, old);
		if (rc < 0)
			return rc;
	}
	return 0;
}

/* ---- encoding ---- */

static void put_str(json_t *o, const char *key, const char *v)
{
	if (v)
		json_object_set_new(o, key, json_string(v));
}

static void put_time(json_t *o, const char *key, int64_t ms)
{
	char buf[40];

	if (ms > 0 && base_time_format(ms, buf, sizeof(buf)) == 0)
		json_object_set_new(o, key, json_string(buf));
}

/* As put_time, with milliseconds: heartbeat times bound a data-loss window to the millisecond. */
static void put_time_ms(json_t *o, const char *key, int64_t ms)
{
	char buf[40];

	if (ms > 0 && base_time_format_ms(ms, buf, sizeof(buf)) == 0)
		json_object_set_new(o, key, json_string(buf));
}

static json_t *encode_operation(const struct gdb_operation *op, int last)
{
	json_t *o = json_object();

	if (op->id > 0)
		json_object_set_new(o, "id", json_integer(op->id));
	put_str(o, "type", op_type_names[op->type]);
	put_str(o, "method", op_method_names[op->method]);
	put_str(o, "targetRegion", op->target_region);
	put_str(o, "sourceRegion", op->source_region);
	if (!last)
		put_str(o, "step", step_names[op->step]);
	put_time(o, "startedTime", op->started_ms);
	put_time(o, "stepStartedTime", op->step_started_ms);
	if (op->attempts > 0)
		json_object_set_new(o, "attempts", json_integer(op->attempts));
	if (!last) {
		put_str(o, "lastAction", op->last_action);
		put_time(o, "lastCallTime", op->last_call_ms);
	}
	put_str(o, "message", op->message);
	put_str(o, "globalClusterIdentifier", op->global_cluster_identifier);
	put_str(o, "dnsChangeId", op->dns_change_id);
	if (op->data_loss_window_seconds >= 0)
		json_object_set_new(o, "dataLossWindowSeconds",
				    json_integer(op->data_loss_window_seconds));
	put_str(o, "lostWritesSnapshot", op->lost_writes_snapshot);
	if (op->n_steps) {
		json_t *arr = json_array();

		for (size_t i = 0; i < op->n_steps; i++) {
			json_t *s = json_object();

			put_str(s, "name", op->steps[i].name);
			json_object_set_new(s, "durationSeconds",
					    json_integer(op->steps[i].duration_seconds));
			json_array_append_new(arr, s);
		}
		json_object_set_new(o, "steps", arr);
	}
	if (op->n_restarted_ecs) {
		json_t *arr = json_array();

		for (size_t i = 0; i < op->n_restarted_ecs; i++)
			json_array_append_new(arr, json_string(op->restarted_ecs[i]));
		json_object_set_new(o, "restartedEcsServices", arr);
	}
	if (last) {
		put_str(o, "result", result_names[op->result]);
		put_time(o, "finishedTime", op->finished_ms);
	}
	return o;
}

json_t *gdb_status_encode(const struct gdb_status *st)
{
	json_t *o = json_object(), *arr;

	if (st->observed_generation > 0)
		json_object_set_new(o, "observedGeneration", json_integer(st->observed_generation));
	put_str(o, "globalClusterIdentifier", st->global_cluster_identifier);
	if (st->generation > 0)
		json_object_set_new(o, "generation", json_integer(st->generation));
	put_str(o, "currentPrimaryRegion", st->current_primary_region);
	put_str(o, "writerEndpoint", st->writer_endpoint);
	put_str(o, "globalWriterEndpoint", st->global_writer_endpoint);
	if (st->n_reader_endpoints) {
		arr = json_array();
		for (size_t i = 0; i < st->n_reader_endpoints; i++) {
			json_t *e = json_object();

			put_str(e, "region", st->reader_endpoints[i].region);
			put_str(e, "endpoint", st->reader_endpoints[i].endpoint);
			json_array_append_new(arr, e);
		}
		json_object_set_new(o, "readerEndpoints", arr);
	}
	if (st->max_replication_lag_seconds >= 0)
		json_object_set_new(o, "maxReplicationLagSeconds",
				    json_integer(st->max_replication_lag_seconds));
	put_time(o, "lastFailoverTime", st->last_failover_ms);
	put_time(o, "lastPausedTime", st->last_paused_ms);
	if (st->n_regions) {
		arr = json_array();
		for (size_t i = 0; i < st->n_regions; i++) {
			const struct gdb_region_status *r = &st->regions[i];
			json_t *e = json_object();

			put_str(e, "name", r->name);
			put_str(e, "role", gdb_role_name(r->role));
			put_str(e, "dbClusterIdentifier", r->db_cluster_identifier);
			put_str(e, "clusterStatus", r->cluster_status);
			put_time(e, "clusterStatusSince", r->cluster_status_since_ms);
			put_str(e, "synchronizationStatus", r->synchronization_status);
			if (r->writer_healthy >= 0)
				json_object_set_new(e, "writerHealthy",
						    json_boolean(r->writer_healthy));
			json_object_set_new(e, "consecutiveFailures",
					    json_integer(r->consecutive_failures));
			put_time(e, "lastProbeTime", r->last_probe_ms);
			if (r->replication_lag_seconds >= 0)
				json_object_set_new(e, "replicationLagSeconds",
						    json_integer(r->replication_lag_seconds));
			if (r->port > 0)
				json_object_set_new(e, "port", json_integer(r->port));
			if (r->heartbeat_time_ms > 0) {
				json_object_set_new(e, "heartbeatSeq",
						    json_integer(r->heartbeat_seq));
				put_time_ms(e, "heartbeatTime", r->heartbeat_time_ms);
			}
			put_time_ms(e, "writerFailingSince", r->writer_failing_since_ms);
			json_array_append_new(arr, e);
		}
		json_object_set_new(o, "regions", arr);
	}
	if (st->operation.type != GDB_OP_NONE)
		json_object_set_new(o, "operation", encode_operation(&st->operation, 0));
	if (st->last_operation.type != GDB_OP_NONE)
		json_object_set_new(o, "lastOperation", encode_operation(&st->last_operation, 1));
	if (st->n_conditions) {
		arr = json_array();
		for (size_t i = 0; i < st->n_conditions; i++) {
			const struct gdb_condition *cd = &st->conditions[i];
			json_t *e = json_object();

			put_str(e, "type", cd->type);
			put_str(e, "status", gdb_cond_status_name(cd->status));
			if (cd->observed_generation > 0)
				json_object_set_new(e, "observedGeneration",
						    json_integer(cd->observed_generation));
			put_time(e, "lastTransitionTime", cd->last_transition_ms);
			put_str(e, "reason", cd->reason);
			put_str(e, "message", cd->message ? cd->message : "");
			json_array_append_new(arr, e);
		}
		json_object_set_new(o, "conditions", arr);
	}
	return o;
}

void gdb_operation_release(struct gdb_operation *op)
{
	if (!op)
		return;
	free(op->target_region);
	free(op->source_region);
	free(op->last_action);
	free(op->message);
	free(op->global_cluster_identifier);
	free(op->dns_change_id);
	free(op->lost_writes_snapshot);
	for (size_t i = 0; i < op->n_steps; i++)
		free(op->steps[i].name);
	for (size_t i = 0; i < op->n_restarted_ecs; i++)
		free(op->restarted_ecs[i]);
	memset(op, 0, sizeof(*op));
	op->data_loss_window_seconds = -1;
}

static char *dup_or_null(const char *s)
{
	return s ? xstrdup(s) : NULL;
}

void gdb_operation_copy(struct gdb_operation *dst, const struct gdb_operation *src)
{
	*dst = *src;
	dst->target_region = dup_or_null(src->target_region);
	dst->source_region = dup_or_null(src->source_region);
	dst->last_action = dup_or_null(src->last_action);
	dst->message = dup_or_null(src->message);
	dst->global_cluster_identifier = dup_or_null(src->global_cluster_identifier);
	dst->dns_change_id = dup_or_null(src->dns_change_id);
	dst->lost_writes_snapshot = dup_or_null(src->lost_writes_snapshot);
	for (size_t i = 0; i < src->n_steps; i++)
		dst->steps[i].name = dup_or_null(src->steps[i].name);
	for (size_t i = 0; i < src->n_restarted_ecs; i++)
		dst->restarted_ecs[i] = dup_or_null(src->restarted_ecs[i]);
}

char *gdb_ecs_service_key(const struct gdb_ecs_service *e)
{
	return xasprintf("%s/%s/%s", e->region ? e->region : "", e->cluster ? e->cluster : "",
			 e->service ? e->service : "");
}

void gdb_status_release(struct gdb_status *st)
{
	if (!st)
		return;
	free(st->global_cluster_identifier);
	free(st->current_primary_region);
	free(st->writer_endpoint);
	free(st->global_writer_endpoint);
	for (size_t i = 0; i < st->n_reader_endpoints; i++) {
		free(st->reader_endpoints[i].region);
		free(st->reader_endpoints[i].endpoint);
	}
	for (size_t i = 0; i < st->n_regions; i++) {
		free(st->regions[i].name);
		free(st->regions[i].db_cluster_identifier);
		free(st->regions[i].cluster_status);
		free(st->regions[i].synchronization_status);
	}
	gdb_operation_release(&st->operation);
	gdb_operation_release(&st->last_operation);
	for (size_t i = 0; i < st->n_conditions; i++) {
		free(st->conditions[i].type);
		free(st->conditions[i].reason);
		free(st->conditions[i].message);
	}
	memset(st, 0, sizeof(*st));
	st->max_replication_lag_seconds = -1;
	st->operation.data_loss_window_seconds = -1;
	st->last_operation.data_loss_window_seconds = -1;
}

void gdb_status_copy(struct gdb_status *dst, const struct gdb_status *src)
{
	*dst = *src;
	dst->global_cluster_identifier = dup_or_null(src->global_cluster_identifier);
	dst->current_primary_region = dup_or_null(src->current_primary_region);
	dst->writer_endpoint = dup_or_null(src->writer_endpoint);
	dst->global_writer_endpoint = dup_or_null(src->global_writer_endpoint);
	for (size_t i = 0; i < src->n_reader_endpoints; i++) {
		dst->reader_endpoints[i].region = dup_or_null(src->reader_endpoints[i].region);
		dst->reader_endpoints[i].endpoint = dup_or_null(src->reader_endpoints[i].endpoint);
	}
	for (size_t i = 0; i < src->n_regions; i++) {
		struct gdb_region_status *d = &dst->regions[i];
		const struct gdb_region_status *s = &src->regions[i];

		d->name = dup_or_null(s->name);
		d->db_cluster_identifier = dup_or_null(s->db_cluster_identifier);
		d->cluster_status = dup_or_null(s->cluster_status);
		d->synchronization_status = dup_or_null(s->synchronization_status);
	}
	gdb_operation_copy(&dst->operation, &src->operation);
	gdb_operation_copy(&dst->last_operation, &src->last_operation);
	for (size_t i = 0; i < src->n_conditions; i++) {
		dst->conditions[i].type = dup_or_null(src->conditions[i].type);
		dst->conditions[i].reason = dup_or_null(src->conditions[i].reason);
		dst->conditions[i].message = dup_or_null(src->conditions[i].message);
	}
}

struct gdb_region_status *gdb_status_region(struct gdb_status *st, const char *name)
{
	for (size_t i = 0; name && i < st->n_regions; i++)
		if (st->regions[i].name && strcmp(st->regions[i].name, name) == 0)
			return &st->regions[i];
	return NULL;
}

const struct gdb_condition *gdb_status_condition(const struct gdb_status *st, const char *type)
{
	for (size_t i = 0; i < st->n_conditions; i++)
		if (st->conditions[i].type && strcmp(st->conditions[i].type, type) == 0)
			return &st->conditions[i];
	return NULL;
}
