/*
 * types.h - the GlobalDatabase API (globaldb.io/v1alpha1) as C structs, and
 * their JSON form.
 *
 * gdb_spec_decode() turns the "spec" object of a GlobalDatabase into a
 * struct gdb_spec, filling the same defaults the CRD schema declares (an API
 * server without the schema's defaulting, or an object stored before a default
 * was added, still yields a complete spec). gdb_status_decode() and
 * gdb_status_encode() do the same for "status", and round-trip: encoding a
 * decoded status yields an equal status.
 *
 * Decoding treats its input as hostile: wrong JSON types, missing fields,
 * oversized strings and arrays past their caps are errors, never crashes, and
 * the error text names the field path ("spec.regions[1].name: must be a
 * string"). Shape is checked here; meaning (primaryRegion is one of the
 * regions, names unique, bounds) is checked by validate.h.
 *
 * Ownership: every char * inside these structs is owned by the struct and
 * freed by the matching _release(); NULL means absent. Structs are plain data:
 * not thread-safe, one owner at a time. _release() accepts a zeroed struct and
 * leaves the struct zeroed, so it can be reused.
 */
#ifndef GDB_TYPES_H
#define GDB_TYPES_H

#include <jansson.h>
#include <stddef.h>
#include <stdint.h>

#define GDB_MAX_REGIONS 6
#define GDB_MAX_WORKLOADS 50
#define GDB_MAX_SECURITY_GROUPS 5
#define GDB_MAX_STEPS 32
#define GDB_MAX_CONDITIONS 8
/* The longest string the decoder accepts anywhere (a KMS ARN, a message). */
#define GDB_MAX_STRING 4096
#define GDB_ERRLEN 512

/* The annotations through which people decide what GitOps cannot. */
#define GDB_ANNOTATION_PAUSED "globaldb.io/paused"
#define GDB_ANNOTATION_APPROVE_FAILOVER "globaldb.io/approve-failover"
#define GDB_ANNOTATION_APPROVE_FALLBACK "globaldb.io/approve-fallback"

enum gdb_failover_mode { GDB_MODE_AUTOMATIC = 0, GDB_MODE_MANUAL };
enum gdb_failover_method { GDB_METHOD_AUTO = 0, GDB_METHOD_MANAGED, GDB_METHOD_DETACH };
enum gdb_confirmation { GDB_CONFIRM_CONTROL_PLANE = 0, GDB_CONFIRM_NONE };
enum gdb_deletion_policy { GDB_DELETION_RETAIN = 0, GDB_DELETION_DELETE };
/* spec.adoption.policy: what an existing resource without our owner tag may become (ownership.h). */
enum gdb_adoption_policy { GDB_ADOPT_REQUIRE_OWNER_TAG = 0, GDB_ADOPT_UNTAGGED };

struct gdb_template {
	char *engine_version;
	char *instance_class;
	int instances; /* default 1 */
	char *db_subnet_group_name;
	char *vpc_security_group_ids[GDB_MAX_SECURITY_GROUPS];
	size_t n_vpc_security_group_ids;
	char *kms_key_id;
	char *db_cluster_parameter_group_name;
};

struct gdb_region_spec {
	char *name;
	char *db_cluster_identifier;
	int has_template;
	struct gdb_template template;
	char *probe_host; /* NULL: probe the RDS endpoints */
	int probe_port;	  /* default 5432 */
};

struct gdb_health_check_spec {
	int period_seconds;    /* default 5 */
	int timeout_seconds;   /* default 3 */
	int failure_threshold; /* default 3 */
	int success_threshold; /* default 1 */
	char *database;	       /* default "postgres" */
	char *secret_name;     /* credentialsSecretRef.name */
	char *username_key;    /* default "username" when secret_name is set */
	char *password_key;    /* default "password" when secret_name is set */
	char *secrets_manager_secret_id;
	char *ssl_mode; /* default "require" */
	/*
	 * 1: the probes may also answer cleartext and MD5 password requests, log
	 * in where the server asks for no password, and run without TLS. Default
	 * 0: SCRAM-SHA-256 bound to the TLS session (channel_binding=require).
	 */
	int allow_insecure_password;
	/*
	 * caBundleRef: the PEM CA bundle the server certificates are checked
	 * against, a key of a ConfigMap or a Secret in the object's namespace.
	 * NULL ca_name = none.
	 */
	int ca_from_secret; /* caBundleRef.kind: 0 ConfigMap (default), 1 Secret */
	char *ca_name;	    /* caBundleRef.name */
	char *ca_key;	    /* caBundleRef.key, default "ca.crt" */
};

struct gdb_failover_spec {
	enum gdb_failover_mode mode;
	enum gdb_failover_method method;
	int max_data_loss_seconds; /* default 30 */
	enum gdb_confirmation confirmation;
	int in_region_grace_seconds; /* default 120 */
	int cooldown_seconds;	     /* default 900 */
};

struct gdb_dns_spec {
	char *hosted_zone_id;
	char *writer_record_name;
	char *reader_record_name;
	int ttl_seconds; /* default 5 */
};

struct gdb_k8s_workload {
	char *namespace_;
	char *name;
};

struct gdb_ecs_service {
	char *region;
	char *cluster;
	char *service;
};

struct gdb_spec {
	char *global_cluster_identifier;
	char *primary_region;
	struct gdb_region_spec regions[GDB_MAX_REGIONS];
	size_t n_regions;
	struct gdb_health_check_spec health_check;
	struct gdb_failover_spec failover;
	enum gdb_failover_mode fallback_mode;
	int has_dns;
	struct gdb_dns_spec dns;
	struct gdb_k8s_workload deployments[GDB_MAX_WORKLOADS];
	size_t n_deployments;
	struct gdb_k8s_workload stateful_sets[GDB_MAX_WORKLOADS];
	size_t n_stateful_sets;
	struct gdb_ecs_service ecs_services[GDB_MAX_WORKLOADS];
	size_t n_ecs_services;
	char *ssm_parameter_prefix; /* NULL: do not publish */
	enum gdb_deletion_policy deletion_policy;
	enum gdb_adoption_policy adoption_policy;
};

/* ---- status ---- */

enum gdb_role {
	GDB_ROLE_UNKNOWN = 0,
	GDB_ROLE_PRIMARY,
	GDB_ROLE_SECONDARY,
	GDB_ROLE_DETACHED,
	GDB_ROLE_LOST,
	GDB_ROLE_REBUILDING,
};

enum gdb_op_type { GDB_OP_NONE = 0, GDB_OP_SWITCHOVER, GDB_OP_FAILOVER, GDB_OP_FALLBACK };
enum gdb_op_method { GDB_OPM_NONE = 0, GDB_OPM_SWITCHOVER, GDB_OPM_MANAGED, GDB_OPM_DETACH };
enum gdb_op_result {
	GDB_RESULT_NONE = 0,
	GDB_RESULT_SUCCEEDED,
	GDB_RESULT_FAILED,
	GDB_RESULT_CANCELLED
};

/*
 * The steps of status.operation.step. docs/api.md draws the state machine; the
 * planner's step table (planner.h, drawn in docs/planner-steps.md) has every edge:
 *
 *   Switchover:  Switchover -> WaitSwitchover -> UpdateDns -> WaitDnsInsync ->
 *                PublishSsm -> RestartWorkloads
 *   Failover:    [AwaitingApproval ->] FailoverManaged -> WaitFailover -> UpdateDns -> ...
 *                (as above)
 *                Detach -> WaitPromoted -> UpdateDns -> ...
 *   Fallback after a detach:
 *                [AwaitingApproval ->] FenceOldWriter -> DeleteOldGlobalCluster ->
 *                CreateGlobalCluster -> CreateSecondary -> CreateInstances -> WaitConnected
 *                [-> FenceOldWriter for the next stale region] -> PublishSsm
 *   Fallback after a managed failover:
 *                [AwaitingApproval ->] WaitReAdded -> CopySnapshot
 *
 * Steps UpdateDns, PublishSsm and RestartWorkloads are skipped when not configured.
 */
enum gdb_step {
	GDB_STEP_NONE = 0,
	GDB_STEP_AWAITING_APPROVAL,
	GDB_STEP_SWITCHOVER,
	GDB_STEP_WAIT_SWITCHOVER,
	GDB_STEP_FAILOVER_MANAGED,
	GDB_STEP_WAIT_FAILOVER,
	GDB_STEP_DETACH,
	GDB_STEP_WAIT_PROMOTED,
	GDB_STEP_UPDATE_DNS,
	GDB_STEP_WAIT_DNS_INSYNC,
	GDB_STEP_PUBLISH_SSM,
	GDB_STEP_RESTART_WORKLOADS,
	GDB_STEP_FENCE_OLD_WRITER,
	GDB_STEP_DELETE_OLD_GLOBAL_CLUSTER,
	GDB_STEP_CREATE_GLOBAL_CLUSTER,
	GDB_STEP_CREATE_SECONDARY,
	GDB_STEP_CREATE_INSTANCES,
	GDB_STEP_WAIT_CONNECTED,
	GDB_STEP_WAIT_READDED,
	GDB_STEP_COPY_SNAPSHOT,
	GDB_STEP__COUNT
};

enum gdb_cond_status { GDB_COND_UNKNOWN = 0, GDB_COND_TRUE, GDB_COND_FALSE };

struct gdb_condition {
	char *type;
	enum gdb_cond_status status;
	int64_t observed_generation;
	int64_t last_transition_ms; /* unix ms; 0 = absent */
	char *reason;
	char *message;
};

struct gdb_step_record {
	char *name;
	int64_t duration_seconds;
};

struct gdb_region_status {
	char *name;
	enum gdb_role role;
	char *db_cluster_identifier;
	char *cluster_status;
	int64_t cluster_status_since_ms;
	char *synchronization_status;
	int writer_healthy; /* -1 absent, 0, 1 */
	int consecutive_failures;
	int64_t last_probe_ms;
	int64_t replication_lag_seconds; /* -1 unknown */
	int port;			 /* the cluster's port as RDS last answered; 0 unknown */
	/*
	 * The heartbeat watermark (docs/api.md "Replication lag"). On the
	 * Primary's row: the newest heartbeat its writer acknowledged; on a
	 * Secondary's row: the newest heartbeat seen replicated there. seq and
	 * written_at (unix ms; 0 = none). Other roles carry none.
	 */
	int64_t heartbeat_seq;
	int64_t heartbeat_time_ms;
	/* Primary's row: when the first failed write probe after that heartbeat ended; 0 = none. */
	int64_t writer_failing_since_ms;
};

struct gdb_operation {
	/*
	 * The operation's number on this object: 1 for the first, one more for
	 * each later one; lastOperation keeps it. What a reader (a test, a
	 * dashboard, a runbook) matches an operation by: two operations can start
	 * within one second, which startedTime cannot tell apart.
	 */
	int64_t id;
	enum gdb_op_type type; /* GDB_OP_NONE: no operation */
	enum gdb_op_method method;
	char *target_region;
	char *source_region;
	enum gdb_step step;
	int64_t started_ms;
	int64_t step_started_ms;
	int attempts;
	/*
	 * The name of the AWS call (gdb_action_name) this step issued last; NULL
	 * when none (or written by an older controller). A step that issues several
	 * different calls in turn counts attempts and times the settle window per
	 * call: persisted so a restarted controller still knows which call may be
	 * in flight.
	 */
	char *last_action;
	/*
	 * When the operation last issued an AWS call (any step, any call), unix
	 * ms; 0 none (or written by an older controller). The settle window runs
	 * from here, and a failover whose operation has called AWS never changes
	 * its target. Kept across steps, cleared in lastOperation.
	 */
	int64_t last_call_ms;
	char *message;
	char *global_cluster_identifier;
	char *dns_change_id;
	int64_t data_loss_window_seconds; /* -1 unknown */
	char *lost_writes_snapshot;
	struct gdb_step_record steps[GDB_MAX_STEPS];
	size_t n_steps;
	/*
	 * RestartWorkloads: the ECS services ("region/cluster/service") this
	 * operation already forced a new deployment of. A retry skips them: every
	 * forceNewDeployment rolls the whole service again.
	 */
	char *restarted_ecs[GDB_MAX_WORKLOADS];
	size_t n_restarted_ecs;
	/* lastOperation only: */
	enum gdb_op_result result;
	int64_t finished_ms;
};

struct gdb_reader_endpoint {
	char *region;
	char *endpoint;
};

struct gdb_status {
	int64_t observed_generation;
	char *global_cluster_identifier;
	int64_t generation; /* 0 = not yet known */
	char *current_primary_region;
	char *writer_endpoint;
	char *global_writer_endpoint;
	struct gdb_reader_endpoint reader_endpoints[GDB_MAX_REGIONS];
	size_t n_reader_endpoints;
	int64_t max_replication_lag_seconds; /* -1 unknown */
	int64_t last_failover_ms;	     /* 0 = never */
	int64_t last_paused_ms;		     /* 0 = never */
	struct gdb_region_status regions[GDB_MAX_REGIONS];
	size_t n_regions;
	struct gdb_operation operation;
	struct gdb_operation last_operation;
	struct gdb_condition conditions[GDB_MAX_CONDITIONS];
	size_t n_conditions;
};

/*
 * Decodes the spec object (borrowed) into *out (zeroed first, caller releases
 * it even on failure). 0, or BASE_EINVAL with a message naming the field in
 * err (errlen bytes, may be 0).
 */
int gdb_spec_decode(const json_t *spec, struct gdb_spec *out, char *err, size_t errlen);
void gdb_spec_release(struct gdb_spec *spec);

/* As gdb_spec_decode, for the status object; NULL or absent decodes as empty. */
int gdb_status_decode(const json_t *status, struct gdb_status *out, char *err, size_t errlen);
/* A new JSON object (caller owns the reference) with every present field. */
json_t *gdb_status_encode(const struct gdb_status *status);
void gdb_status_release(struct gdb_status *status);
/* Deep copy; dst is overwritten (not released first). */
void gdb_status_copy(struct gdb_status *dst, const struct gdb_status *src);
void gdb_operation_release(struct gdb_operation *op);
void gdb_operation_copy(struct gdb_operation *dst, const struct gdb_operation *src);

/* The spec's region called name, or NULL. Index into regions via *index (may be NULL). */
const struct gdb_region_spec *gdb_spec_region(const struct gdb_spec *spec, const char *name,
					      size_t *index);
/* The status' region called name, or NULL. */
struct gdb_region_status *gdb_status_region(struct gdb_status *st, const char *name);
/* The condition of this type, or NULL. */
const struct gdb_condition *gdb_status_condition(const struct gdb_status *st, const char *type);
/*
 * Sets the condition of this type, as apimachinery's meta.SetStatusCondition
 * (and kube_condition_set for JSON) do: a new type is added with
 * lastTransitionTime now_ms; an existing one keeps its lastTransitionTime
 * unless status changes (or it had none); reason, message (copied; NULL
 * clears) and observedGeneration are always updated. A new type beyond
 * GDB_MAX_CONDITIONS is dropped. The one setter of the planner and the
 * reconciler.
 */
void gdb_status_set_condition(struct gdb_status *st, const char *type, enum gdb_cond_status status,
			      const char *reason, const char *message, int64_t generation,
			      int64_t now_ms);

/* Names of enum values as they appear in JSON, and back (-1 when unknown). */
const char *gdb_role_name(enum gdb_role r);
const char *gdb_op_type_name(enum gdb_op_type t);
const char *gdb_op_method_name(enum gdb_op_method m);
const char *gdb_op_result_name(enum gdb_op_result r);
const char *gdb_step_name(enum gdb_step s);
int gdb_step_parse(const char *name);
const char *gdb_cond_status_name(enum gdb_cond_status s);

/*
 * Global cluster generations. A detach-and-promote leaves the old global
 * cluster unusable, so a fallback creates the next generation under a new
 * name. spec.globalClusterIdentifier (the base) names the first generation
 * the object knows; a base that already ends in "-N" (N a number without a
 * leading zero, the seed runbook's "demo-global-cluster-1") is generation N,
 * any other base generation 1. Generation G after the base's is named
 * <stem>-G, the stem being the base without its "-N": demo-global-cluster-1
 * is followed by demo-global-cluster-2, orders by orders-2. This is the one
 * parser of the suffix: the planner names and adopts with it, and
 * observation recognises our global clusters with it. Identifiers compare
 * case-insensitively, as RDS does. Pure functions, thread-safe.
 */
/* The length of id without its "-N" generation suffix (strlen(id) if it has none). */
size_t gdb_generation_stem_len(const char *id);
/*
 * The generation id names for this base: the base's own generation when id
 * is the base, G when id is <stem>-G for G above it, else 0 (not ours by name).
 */
int64_t gdb_generation_of(const char *base, const char *id);
/*
 * The name of generation gen for this base (caller frees): the base itself
 * for the base's own generation or below, <stem>-gen above it.
 */
char *gdb_generation_name(const char *base, int64_t gen);

/* The key of an ECS service in status.operation.restartedEcsServices (caller frees). */
char *gdb_ecs_service_key(const struct gdb_ecs_service *e);

/* Replaces *dst (freed) by a copy of src (NULL allowed). */
void gdb_set_str(char **dst, const char *src);

#endif
