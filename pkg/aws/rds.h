/*
 * rds.h - the Amazon RDS operations the controller needs (awsQuery,
 * 2014-10-31): global clusters, DB clusters, DB instances and cluster
 * snapshots, with typed requests and results.
 *
 * Every call names the region it goes to (docs/aws-protocols.md §2.1: switchover in
 * the current primary's region, failover and detach in the target's region,
 * a cluster operation in the cluster's own region). Pass DB clusters in
 * global-cluster calls as ARNs.
 *
 * Results: all strings are owned by the result struct; absent fields are
 * NULL (strings) or 0. Release a result with its _release function
 * (NULL-safe, leaves it zeroed). Describe calls follow Marker pagination to
 * the end and return every item in a list whose items keep their strings
 * and arrays in the list's pool (pkg/base/pool.h): release the list, never
 * one of its items, and copy what must outlive it.
 *
 * Errors: 0, or a base code (aws_error_to_base) with err filled with the
 * wire code, e.g. GlobalClusterNotFoundFault -> BASE_ENOTFOUND,
 * InvalidGlobalClusterStateFault -> BASE_ECONFLICT, DBInstanceNotFound ->
 * BASE_ENOTFOUND, Throttling after the retries -> BASE_ETHROTTLED.
 * The calls that change RDS (FailoverGlobalCluster, SwitchoverGlobalCluster,
 * RemoveFromGlobalCluster, Create* and Delete*, CopyDBClusterSnapshot) are
 * never retried after a timeout, a transport error or a 5xx, once the request
 * may have reached AWS: the first may have been applied, so re-read the
 * Describe calls first. Throttling answers (nothing applied) are retried.
 *
 * Thread-safe as the client is.
 */
#ifndef AWS_RDS_H
#define AWS_RDS_H

#include <stddef.h>
#include <stdint.h>

#include "pkg/aws/client.h"
#include "pkg/aws/xml.h"

struct base_pool;

/* An optional boolean request field: zero-initialised means "not sent". */
enum aws_opt_bool { AWS_UNSET = 0, AWS_FALSE = 1, AWS_TRUE = 2 };

struct aws_tag {
	char *key;
	char *value;
};

struct aws_rds_global_cluster_member {
	char *db_cluster_arn;
	int is_writer;
	char **readers; /* ARNs of the secondaries (on the writer) */
	size_t nreaders;
	char *global_write_forwarding_status; /* enabled|disabled|enabling|disabling|unknown */
	char *synchronization_status;	      /* connected|pending-resync, NULL if absent */
};

struct aws_rds_failover_state {
	int present;  /* 1 when a switchover/failover is pending or running */
	char *status; /* pending|failing-over|switching-over|cancelling */
	char *from_db_cluster_arn;
	char *to_db_cluster_arn;
	int is_data_loss_allowed; /* 1 = failover, 0 = switchover */
};

struct aws_rds_global_cluster {
	char *identifier;
	char *resource_id;
	char *arn;
	char *status;
	char *engine;
	char *engine_version;
	char *database_name;
	char *endpoint; /* global writer endpoint */
	int storage_encrypted;
	int deletion_protection;
	struct aws_rds_global_cluster_member *members;
	size_t nmembers;
	struct aws_rds_failover_state failover_state;
	struct aws_tag *tags; /* TagList, in the answer's order */
	size_t ntags;
};

struct aws_rds_global_cluster_list {
	struct aws_rds_global_cluster *items;
	size_t n;
	struct base_pool *pool; /* the items, and their strings and arrays */
};

struct aws_rds_cluster_member {
	char *db_instance_identifier;
	int is_cluster_writer;
	int promotion_tier;
};

struct aws_rds_db_cluster {
	char *identifier;
	char *arn;
	char *resource_id;
	char *status;
	char *endpoint;
	char *reader_endpoint;
	int port;
	char *engine;
	char *engine_version;
	char *global_cluster_identifier; /* may be the GC ARN on moto; not the membership truth */
	char *global_write_forwarding_status;
	char *replication_source_identifier;
	char *hosted_zone_id;
	char *kms_key_id;
	char *master_username;
	char *master_user_secret_arn;
	int storage_encrypted;
	int deletion_protection;
	struct aws_rds_cluster_member *members;
	size_t nmembers;
	struct aws_tag *tags; /* TagList, in the answer's order */
	size_t ntags;
};

struct aws_rds_db_cluster_list {
	struct aws_rds_db_cluster *items;
	size_t n;
	struct base_pool *pool; /* the items, and their strings and arrays */
};

struct aws_rds_db_instance {
	char *identifier;
	char *arn;
	char *status; /* DBInstanceStatus */
	char *db_instance_class;
	char *engine;
	char *db_cluster_identifier;
	char *endpoint_address;
	int endpoint_port;
	char *availability_zone;
	int promotion_tier;
};

struct aws_rds_db_instance_list {
	struct aws_rds_db_instance *items;
	size_t n;
	struct base_pool *pool; /* the items, and their strings and arrays */
};

struct aws_rds_cluster_snapshot {
	char *identifier;
	char *arn;
	char *db_cluster_identifier;
	char *status;
	char *snapshot_type;
	char *engine;
	char *engine_version;
	char *kms_key_id;
	int storage_encrypted;
	int64_t create_time_ms;
};

struct aws_rds_cluster_snapshot_list {
	struct aws_rds_cluster_snapshot *items;
	size_t n;
	struct base_pool *pool; /* the items, and their strings and arrays */
};

void aws_rds_global_cluster_release(struct aws_rds_global_cluster *g);
void aws_rds_global_cluster_list_release(struct aws_rds_global_cluster_list *l);
void aws_rds_db_cluster_release(struct aws_rds_db_cluster *c);
void aws_rds_db_cluster_list_release(struct aws_rds_db_cluster_list *l);
void aws_rds_db_instance_release(struct aws_rds_db_instance *i);
void aws_rds_db_instance_list_release(struct aws_rds_db_instance_list *l);
void aws_rds_cluster_snapshot_release(struct aws_rds_cluster_snapshot *s);
void aws_rds_cluster_snapshot_list_release(struct aws_rds_cluster_snapshot_list *l);

/* ---- global clusters ---- */

/*
 * global_cluster_id NULL lists all; filter_region (NULL = none) adds the
 * "region" filter. Pages with Marker until done.
 */
int aws_rds_describe_global_clusters(struct aws_client *c, const char *region,
				     const char *global_cluster_id, const char *filter_region,
				     struct aws_rds_global_cluster_list *out,
				     struct aws_error *err);

struct aws_rds_create_global_cluster_input {
	const char *global_cluster_identifier; /* required */
	const char *source_db_cluster_arn;     /* promote an existing cluster (then no engine) */
	const char *engine;		       /* aurora-postgresql, without a source */
	const char *engine_version;
	const char *database_name;
	enum aws_opt_bool storage_encrypted;
	enum aws_opt_bool deletion_protection;
	const struct aws_tag *tags;
	size_t ntags;
};
int aws_rds_create_global_cluster(struct aws_client *c, const char *region,
				  const struct aws_rds_create_global_cluster_input *in,
				  struct aws_rds_global_cluster *out, struct aws_error *err);
int aws_rds_delete_global_cluster(struct aws_client *c, const char *region,
				  const char *global_cluster_id, struct aws_rds_global_cluster *out,
				  struct aws_error *err);
int aws_rds_remove_from_global_cluster(struct aws_client *c, const char *region,
				       const char *global_cluster_id, const char *db_cluster_arn,
				       struct aws_rds_global_cluster *out, struct aws_error *err);
/* allow_data_loss != 0 sends AllowDataLoss=true (unplanned failover); else Switchover=true. */
int aws_rds_failover_global_cluster(struct aws_client *c, const char *region,
				    const char *global_cluster_id,
				    const char *target_db_cluster_arn, int allow_data_loss,
				    struct aws_rds_global_cluster *out, struct aws_error *err);
int aws_rds_switchover_global_cluster(struct aws_client *c, const char *region,
				      const char *global_cluster_id,
				      const char *target_db_cluster_arn,
				      struct aws_rds_global_cluster *out, struct aws_error *err);

/*
 * AddTagsToResource: adds (or overwrites) ntags tags on the resource arn (a DB
 * cluster's, or a global cluster's arn:aws:rds::<account>:global-cluster:<id>).
 * Idempotent: the same tags twice change nothing.
 */
int aws_rds_add_tags_to_resource(struct aws_client *c, const char *region, const char *arn,
				 const struct aws_tag *tags, size_t ntags, struct aws_error *err);

/* ---- DB clusters ---- */

/* db_cluster_id NULL lists all clusters of the region (engine filter optional). */
int aws_rds_describe_db_clusters(struct aws_client *c, const char *region,
				 const char *db_cluster_id, const char *filter_engine,
				 struct aws_rds_db_cluster_list *out, struct aws_error *err);

struct aws_rds_create_db_cluster_input {
	const char *db_cluster_identifier; /* required */
	const char *engine;		   /* required */
	const char *engine_version;
	const char *global_cluster_identifier; /* join a global database */
	const char *master_username;	       /* primary only */
	const char *master_user_password;      /* secret: never logged, wiped after use */
	enum aws_opt_bool manage_master_user_password;
	const char *database_name;
	const char *db_subnet_group_name;
	const char *const *vpc_security_group_ids;
	size_t nvpc_security_group_ids;
	const char *db_cluster_parameter_group_name;
	int port; /* 0 = default */
	const char *kms_key_id;
	enum aws_opt_bool storage_encrypted;
	enum aws_opt_bool deletion_protection;
	enum aws_opt_bool enable_global_write_forwarding;
	const struct aws_tag *tags;
	size_t ntags;
};
int aws_rds_create_db_cluster(struct aws_client *c, const char *region,
			      const struct aws_rds_create_db_cluster_input *in,
			      struct aws_rds_db_cluster *out, struct aws_error *err);

/* Exactly one of skip_final_snapshot and final_snapshot_identifier must be given. */
int aws_rds_delete_db_cluster(struct aws_client *c, const char *region, const char *db_cluster_id,
			      int skip_final_snapshot, const char *final_snapshot_identifier,
			      struct aws_rds_db_cluster *out, struct aws_error *err);

struct aws_rds_modify_db_cluster_input {
	const char *db_cluster_identifier; /* required */
	enum aws_opt_bool apply_immediately;
	enum aws_opt_bool deletion_protection;
	enum aws_opt_bool enable_global_write_forwarding;
	const char *engine_version;
	enum aws_opt_bool allow_major_version_upgrade;
	const char *new_db_cluster_identifier;
	const char *master_user_password; /* secret */
	const char *db_cluster_parameter_group_name;
	int backup_retention_period; /* 0 = unchanged */
};
int aws_rds_modify_db_cluster(struct aws_client *c, const char *region,
			      const struct aws_rds_modify_db_cluster_input *in,
			      struct aws_rds_db_cluster *out, struct aws_error *err);

/* ---- DB instances ---- */

struct aws_rds_create_db_instance_input {
	const char *db_instance_identifier; /* required */
	const char *db_instance_class;	    /* required, e.g. db.r6g.large */
	const char *engine;		    /* required */
	const char *db_cluster_identifier;  /* Aurora: the cluster */
	int promotion_tier;		    /* -1 = not sent */
	const char *availability_zone;
	const char *db_parameter_group_name;
	enum aws_opt_bool publicly_accessible;
	const struct aws_tag *tags;
	size_t ntags;
};
int aws_rds_create_db_instance(struct aws_client *c, const char *region,
			       const struct aws_rds_create_db_instance_input *in,
			       struct aws_rds_db_instance *out, struct aws_error *err);
int aws_rds_delete_db_instance(struct aws_client *c, const char *region, const char *db_instance_id,
			       int skip_final_snapshot, struct aws_rds_db_instance *out,
			       struct aws_error *err);
/* db_instance_id NULL lists all; filter_cluster_id adds the db-cluster-id filter. */
int aws_rds_describe_db_instances(struct aws_client *c, const char *region,
				  const char *db_instance_id, const char *filter_cluster_id,
				  struct aws_rds_db_instance_list *out, struct aws_error *err);

/* ---- cluster snapshots ---- */

/* Any of the three selectors may be NULL. */
int aws_rds_describe_db_cluster_snapshots(struct aws_client *c, const char *region,
					  const char *db_cluster_id, const char *snapshot_id,
					  const char *snapshot_type,
					  struct aws_rds_cluster_snapshot_list *out,
					  struct aws_error *err);
int aws_rds_copy_db_cluster_snapshot(struct aws_client *c, const char *region,
				     const char *source_snapshot_id, const char *target_snapshot_id,
				     const char *kms_key_id, enum aws_opt_bool copy_tags,
				     struct aws_rds_cluster_snapshot *out, struct aws_error *err);

/* ---- decoders (exposed for the unit tests and the fuzz target) ---- */

/*
 * Decode an element into *out: with pool NULL, into newly allocated strings
 * (release with the item's _release); else into the pool (a list's item).
 */
void aws_rds_decode_global_cluster(const struct aws_xml_node *node,
				   struct aws_rds_global_cluster *out, struct base_pool *pool);
void aws_rds_decode_db_cluster(const struct aws_xml_node *node, struct aws_rds_db_cluster *out,
			       struct base_pool *pool);
void aws_rds_decode_db_instance(const struct aws_xml_node *node, struct aws_rds_db_instance *out,
				struct base_pool *pool);
void aws_rds_decode_cluster_snapshot(const struct aws_xml_node *node,
				     struct aws_rds_cluster_snapshot *out, struct base_pool *pool);

#endif
