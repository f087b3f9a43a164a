/*
 * planner.h - decides the one next step for a GlobalDatabase.
 *
 * gdb_plan() is a pure function:
 *
 *     (spec, status, observed, health, now) -> (action, new status, events, requeue-after)
 *
 * It does no I/O, reads no clock, keeps no globals, and touches nothing but
 * its output. It is level-triggered: each call looks at everything it is given
 * and picks ONE action; the executor performs it, observes again and calls the
 * planner again. The executor's contract:
 *
 *   1. observe: fill struct gdb_observed from RDS/Route 53 (DescribeGlobalClusters
 *      and DescribeDBClusters batched per region, asked of regions that answer),
 *      the object's annotations, and the result of the action it ran last;
 *      fill struct gdb_health from the prober;
 *   2. plan: gdb_plan();
 *   3. persist plan->status (the write-ahead record: status.operation already
 *      names the step being executed, lastAction this call, and attempts counts
 *      it) with the status subresource, BEFORE acting; on a conflict, start
 *      over at 1;
 *   4. act: run plan->action in plan->action.region, emit plan->events;
 *   5. requeue after plan->requeue_after_ms (or sooner on a watch event).
 *
 * Every action is guarded by observed state: the planner only asks for a
 * non-idempotent call (switchover, failover, detach, create, delete) when the
 * observation shows it has not happened yet, and waits GDB_SETTLE_MS after it
 * asked before asking for the same call again, so a controller that crashed
 * between 3 and 4 — or after 4 — resumes without issuing the call twice. Provisioning
 * (creating a missing global cluster, secondary or instance outside an
 * operation) keeps no record: it asks only for what the observation lacks,
 * instance names are deterministic, and a create repeated before RDS shows the
 * first one fails with an AlreadyExists fault and changes nothing.
 *
 * Ownership: inputs are borrowed and never modified. gdb_plan() fills *out
 * (which the caller zero-initializes or reuses after gdb_plan_release()); all
 * strings in it are owned by *out and freed by gdb_plan_release(). Nothing
 * else is allocated. Thread-safe (no shared state).
 */
#ifndef GDB_PLANNER_H
#define GDB_PLANNER_H

#include <stddef.h>
#include <stdint.h>

#include "pkg/globaldb/types.h"

/* Wait this long after issuing a non-idempotent call before concluding it did not happen. */
#define GDB_SETTLE_MS 30000
/*
 * A switchover step is abandoned (Failed) after this many attempts; failovers never give up
 * (they end only when the failed writer recovers or the writer moves elsewhere).
 */
#define GDB_MAX_SWITCHOVER_ATTEMPTS 5
/* After a fallback's region came back, wait this long for Aurora's failover snapshot. */
#define GDB_SNAPSHOT_WAIT_MS (10 * 60 * 1000)
/* An approval annotation dated later than now plus this is refused (ApprovalInFuture). */
#define GDB_APPROVAL_CLOCK_SKEW_MS (2 * 60 * 1000)
/*
 * Requeue intervals. NOW follows a call whose answer is its whole result (a
 * Route 53 change id, an SSM put, a restart): the next step needs no waiting
 * for AWS, only the record of this one. FAST polls a state AWS is changing.
 */
#define GDB_REQUEUE_NOW_MS 1
#define GDB_REQUEUE_FAST_MS 2000
#define GDB_REQUEUE_WAIT_MS 10000
#define GDB_REQUEUE_STEADY_MS 30000
#define GDB_REQUEUE_MAX_MS 60000
/*
 * A settled object that had nothing to do: its changes reach it as events
 * (the spec's watch, probe verdicts, the regions' rounds; see
 * gdb_obs_cache_watch), so this is only a backstop, as client-go's resync.
 */
#define GDB_REQUEUE_SETTLED_MS 300000
/*
 * A secondary that received replication from the writer's region within this
 * long (its own aurora_global_db_status(), see gdb_health_region) still hears
 * the writer: the writer is alive, whatever the controller's probes say, and
 * no unplanned failover starts. This assumes a live link refreshes the
 * secondary's last_lag_calculation_time every few seconds even without client
 * writes (the test world's emulation: every second). Were it not so on an
 * idle, healthy link, the secondary would merely look silent and the other
 * rules alone would decide, as before this gate existed: the assumption can
 * cost a refusal its evidence, never start a failover by itself.
 */
#define GDB_PRIMARY_SILENT_MS 10000
/* gdb_health_region.upstream_age_ms of a secondary that reports no replication at all. */
#define GDB_UPSTREAM_NEVER INT64_MAX
/* The smallest change of a region's lag its status row reports (see docs/api.md). */
#define GDB_LAG_REPORT_STEP_S 2
#define GDB_MAX_SNAPSHOTS 16
#define GDB_MAX_INSTANCES 16
#define GDB_MAX_MEMBERS 6
#define GDB_MAX_GLOBALS 4
#define GDB_MAX_EVENTS 6

/* How the last AWS (or Kubernetes) call of a region or of an action ended. */
enum gdb_call {
	GDB_CALL_OK = 0,
	GDB_CALL_UNKNOWN,	/* not observed this round */
	GDB_CALL_THROTTLED,	/* Throttling, 429: retry later */
	GDB_CALL_UNREACHABLE,	/* connection, DNS, TLS failure, 5xx */
	GDB_CALL_TIMEOUT,	/* the deadline passed */
	GDB_CALL_INVALID_STATE, /* InvalidGlobalClusterStateFault, InvalidDBClusterStateFault,
	                           InvalidParameterCombination: AWS refused the call */
	GDB_CALL_NOT_FOUND,	/* *NotFoundFault */
	GDB_CALL_ALREADY_EXISTS,
	GDB_CALL_FORBIDDEN, /* AccessDenied, not authorized */
	GDB_CALL_OTHER,
};

/*
 * The owner tags of an observed resource (ownership.h): the values of
 * globaldb.io/owner and globaldb.io/owner-uid, NULL when the tag is absent.
 */
struct gdb_obs_owner {
	const char *owner;
	const char *uid;
};

/* One member of an observed global cluster. */
struct gdb_obs_member {
	const char *db_cluster_arn; /* arn:aws:rds:<region>:<account>:cluster:<id> */
	int is_writer;
	const char *synchronization_status; /* "connected", "pending-resync", NULL */
};

/* A global cluster as DescribeGlobalClusters reported it (from any region that answered). */
struct gdb_obs_global {
	const char *identifier;
	const char *status;   /* available, failing-over, switching-over, modifying, deleting … */
	const char *endpoint; /* Aurora's global writer endpoint, may be NULL */
	const char *engine_version; /* EngineVersion; a new secondary must name it */
	/* FailoverState; failover_status NULL when empty. */
	const char *failover_status; /* pending, failing-over, switching-over, cancelling */
	const char *failover_from_arn;
	const char *failover_to_arn;
	int failover_data_loss_allowed;
	struct gdb_obs_member members[GDB_MAX_MEMBERS];
	size_t n_members;
	const char *arn;	    /* GlobalClusterArn, NULL unknown */
	struct gdb_obs_owner owner; /* its owner tags (ownership.h) */
};

/* What the executor saw in one region. */
struct gdb_obs_region {
	const char *name;   /* the spec region */
	enum gdb_call api;  /* how DescribeDBClusters in this region went */
	int cluster_exists; /* 1: found, 0: DBClusterNotFound (only meaningful when api OK) */
	const char *cluster_arn;
	const char *cluster_status; /* available, creating, failing-over, deleting, … */
	const char *endpoint;
	const char *reader_endpoint;
	int port; /* DBCluster.Port, 0 unknown */
	/* DBCluster.GlobalClusterIdentifier when RDS reports it; NULL otherwise (membership in
	 * an observed global cluster then decides). */
	const char *global_cluster_identifier;
	const char *instance_ids[GDB_MAX_INSTANCES];
	size_t n_instances;
	/* DB cluster snapshots of this cluster: Aurora's rds:unplanned-global-failover-… and ours.
	 */
	const char *snapshot_ids[GDB_MAX_SNAPSHOTS];	/* the newest first */
	int64_t snapshot_created_ms[GDB_MAX_SNAPSHOTS]; /* 0 = unknown */
	size_t n_snapshots;
	struct gdb_obs_owner owner; /* the cluster's owner tags (when cluster_exists) */
};

/* The action the executor ran last, and how it ended (lost on a restart: all fields 0). */
struct gdb_obs_last_result {
	int action; /* enum gdb_action_kind; 0 = none known */
	const char *region;
	enum gdb_call call;
	const char *aws_code; /* e.g. InvalidGlobalClusterStateFault */
	const char *message;
	const char *change_id; /* UPSERT_DNS: the Route 53 change id */
	/*
	 * RESTART_WORKLOADS: the ECS services ("region/cluster/service",
	 * comma-separated; NULL = none) the call forced a new deployment of, and
	 * those it could not restart because their region's API did not answer
	 * (each "key (why)", "; "-separated).
	 */
	const char *ecs_restarted;
	const char *ecs_unreachable;
};

struct gdb_observed {
	int64_t generation; /* metadata.generation */
	int deleting;	    /* metadata.deletionTimestamp is set */
	const char *paused; /* annotation values, NULL when absent */
	const char *approve_failover;
	const char *approve_fallback;
	/* The object's identity, what its owner tags must say: "<namespace>/<name>", metadata.uid. */
	const char *owner;
	const char *owner_uid;
	struct gdb_obs_region regions[GDB_MAX_REGIONS];
	size_t n_regions;
	/* Every global cluster that is ours: the one in status, <base>, <base>-N, or one that
	 * holds one of our clusters. */
	struct gdb_obs_global globals[GDB_MAX_GLOBALS];
	size_t n_globals;
	/*
	 * GetChange of status.operation.dnsChangeId, or, at UpdateDns, of the
	 * change last.change_id the upsert just made: "PENDING", "INSYNC", NULL =
	 * not asked.
	 */
	const char *dns_change_status;
	struct gdb_obs_last_result last;
	/*
	 * The two-controller guard (guard.h): the controller that completed the
	 * operation in status, every AWS call of it made, NULL when none did. The
	 * tail's Route 53, SSM and ECS calls are then not made here; this
	 * cluster's Deployments and StatefulSets are still restarted.
	 */
	const char *tail_done_by;
};

/* The prober's verdicts for one region. */
struct gdb_health_region {
	const char *name;
	int writer_healthy;	  /* -1 unknown (not probed yet), 0, 1: the write probe's verdict */
	int consecutive_failures; /* of the write probe (writer) or read probe (secondary) */
	int reader_healthy;    /* -1 unknown, 0, 1: read probe of this region's reader endpoint */
	int64_t lag_ms;	       /* last measured replication lag; -1 unknown */
	int64_t last_probe_ms; /* unix ms, 0 never */
	/*
	 * The heartbeat evidence (written_at is the prober's wall clock, unix ms;
	 * 0 = none): writer, its newest acknowledged heartbeat; secondary, the
	 * newest one its reader saw replicated there.
	 */
	int64_t heartbeat_ms;
	int64_t heartbeat_seq;
	/* Writer: when the first failed write probe after the last success ended; 0 while the
	 * last one succeeded (or none ran). */
	int64_t failing_since_ms;
	/*
	 * Secondary: the region's own view of the writer's region, from its
	 * reader's aurora_global_db_status() in the same probe: how long before
	 * last_probe_ms it last received replication from it. GDB_UPSTREAM_NEVER
	 * when it reports none, -1 unknown (the probe failed or could not ask).
	 * Unlike the probes, this does not travel the controller's network path.
	 */
	int64_t upstream_age_ms;
};

struct gdb_health {
	struct gdb_health_region regions[GDB_MAX_REGIONS];
	size_t n_regions;
};

enum gdb_action_kind {
	GDB_ACT_NONE = 0,	       /* nothing to do: just requeue */
	GDB_ACT_WAIT,		       /* an operation is in flight: observe again after requeue */
	GDB_ACT_CREATE_GLOBAL_CLUSTER, /* CreateGlobalCluster(id, SourceDBClusterIdentifier=arn) */
	GDB_ACT_CREATE_SECONDARY_CLUSTER, /* CreateDBCluster(id, GlobalClusterIdentifier, template)
	                                   */
	GDB_ACT_CREATE_INSTANCE,	  /* CreateDBInstance(instance_id, cluster, class) */
	GDB_ACT_SWITCHOVER,		  /* SwitchoverGlobalCluster(global, target arn) */
	GDB_ACT_FAILOVER_MANAGED,   /* FailoverGlobalCluster(global, target arn, AllowDataLoss) */
	GDB_ACT_DETACH_AND_PROMOTE, /* RemoveFromGlobalCluster(global, target arn) */
	GDB_ACT_UPSERT_DNS,	    /* ChangeResourceRecordSets UPSERT writer/reader CNAMEs */
	GDB_ACT_WAIT_DNS_INSYNC,    /* GetChange(change_id) until INSYNC */
	GDB_ACT_PUBLISH_SSM,	    /* PutParameter(Overwrite) in every region */
	GDB_ACT_RESTART_WORKLOADS,  /* restartedAt = restart_stamp; ECS forceNewDeployment */
	GDB_ACT_DELETE_INSTANCES,   /* DeleteDBInstance for every instance of cluster */
	GDB_ACT_REMOVE_FROM_GLOBAL_CLUSTER, /* RemoveFromGlobalCluster of a stale member */
	GDB_ACT_FENCE_OLD_WRITER, /* DeleteDBCluster(cluster, FinalDBSnapshotIdentifier) */
	GDB_ACT_DELETE_CLUSTER,	  /* DeleteDBCluster (deletionPolicy Delete) with snapshot */
	GDB_ACT_DELETE_OLD_GLOBAL_CLUSTER, /* DeleteGlobalCluster(global) */
	GDB_ACT_COPY_FAILOVER_SNAPSHOT,	   /* CopyDBClusterSnapshot(source, target) */
	GDB_ACT_RECOMMEND_FAILOVER, /* Manual mode: no AWS call; the Event and condition say it */
	GDB_ACT_REMOVE_FINALIZER,   /* deletion done (or Retain): let Kubernetes delete it */
	GDB_ACT_TAG_RESOURCE,	    /* AddTagsToResource(target_arn, the owner tags): adoption */
	GDB_ACT__COUNT
};

struct gdb_action {
	enum gdb_action_kind kind;
	char *region; /* where to call */
	char *global_cluster_identifier;
	char *db_cluster_identifier;
	char *target_arn;	  /* switchover/failover/detach target, create source */
	char *instance_id;	  /* CREATE_INSTANCE */
	char *snapshot_id;	  /* FENCE/DELETE final snapshot, COPY target */
	char *source_snapshot_id; /* COPY source */
	char *source_region;	  /* CREATE_SECONDARY: the primary's region */
	char *engine_version;	  /* CREATE_SECONDARY: the template's, else the global's */
	char *writer_endpoint;	  /* UPSERT_DNS / PUBLISH_SSM */
	char *reader_endpoint;	  /* UPSERT_DNS */
	char *change_id;	  /* WAIT_DNS_INSYNC */
	char *restart_stamp;	  /* RESTART_WORKLOADS: the restartedAt value (idempotent) */
	/* RESTART_WORKLOADS: bit i set = skip spec.ecs_services[i] (forced earlier in the
	 * operation). The executor runs the plan with the spec it was planned from. */
	uint64_t ecs_skip;
	/* Create* and TAG_RESOURCE: the owner tags to put on the resource (ownership.h). */
	char *owner;
	char *owner_uid;
	/* Why (also the Event message). */
	char *reason;
};

enum gdb_event_type { GDB_EVENT_NORMAL = 0, GDB_EVENT_WARNING };

struct gdb_event {
	enum gdb_event_type type;
	char *reason; /* CamelCase */
	char *message;
};

struct gdb_plan {
	struct gdb_action action;
	struct gdb_status status; /* the whole new status to persist */
	struct gdb_event events[GDB_MAX_EVENTS];
	size_t n_events;
	int64_t requeue_after_ms;
	/* Why nothing happened, when a failover or fallback was considered and refused
	 * (a condition reason such as ReplicationLagOverBudget), else NULL. */
	char *refusal;
};

/*
 * Plans one step. All inputs are borrowed; status may be an empty (decoded from
 * NULL) status; health may be NULL (no verdicts yet: nothing fails over).
 * now_ms is the wall clock in unix ms, supplied by the caller.
 * Always succeeds; the result is in *out (released with gdb_plan_release).
 */
void gdb_plan(const struct gdb_spec *spec, const struct gdb_status *status,
	      const struct gdb_observed *observed, const struct gdb_health *health, int64_t now_ms,
	      struct gdb_plan *out);
void gdb_plan_release(struct gdb_plan *plan);

/*
 * The time of an approval annotation (globaldb.io/approve-failover or
 * -fallback) read at now_ms: 0 with *t_ms set; -1 when value is not an RFC
 * 3339 time (InvalidApproval); -2 when it is dated later than now plus
 * GDB_APPROVAL_CLOCK_SKEW_MS (ApprovalInFuture).
 */
int gdb_approval_time(const char *value, int64_t now_ms, int64_t *t_ms);

const char *gdb_action_name(enum gdb_action_kind kind);

/*
 * The step table: the planner's state machine as data. Each step of
 * status.operation names the operation types it serves, the steps that may
 * follow it (GDB_STEP_NONE in `next`: the operation may end there), and the
 * operation types a failover may pre-empt there (cancel before any call that
 * cannot be taken back). The planner moves only along these edges: any other
 * move is a bug (BUG(), never a silent jump), and GDB_STEP_NONE's `next` is
 * where an operation may start. docs/planner-steps.md draws the table; a unit
 * test keeps the drawing in sync, and model/failover.pml models the same
 * transitions.
 */
#define GDB_STEP_BIT(s) (1u << (s))
#define GDB_OP_BIT(t) (1u << (t))

struct gdb_step_def {
	unsigned op_types; /* GDB_OP_BIT per type the step serves */
	uint32_t next;	   /* GDB_STEP_BIT per step that may follow */
	unsigned preempt;  /* GDB_OP_BIT per type a failover may cancel here */
};

const struct gdb_step_def *gdb_step_def(enum gdb_step step);

/*
 * Parses "arn:aws:rds:<region>:<account>:cluster:<id>" (any partition).
 * Copies region and id into the given buffers; 0 or BASE_EINVAL.
 */
int gdb_parse_cluster_arn(const char *arn, char *region, size_t region_len, char *id,
			  size_t id_len);

#endif
