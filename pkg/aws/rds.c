/*
 * RDS operations. Requests are flattened into awsQuery parameters following
 * the model's locationNames (Filters.Filter.N.Name,
 * VpcSecurityGroupIds.VpcSecurityGroupId.N, Tags.Tag.N.Key); answers are
 * decoded from the <{Op}Result> element with the list item names of the model
 * (GlobalClusters/GlobalClusterMember, DBClusters/DBCluster,
 * GlobalClusterMembers/GlobalClusterMember, Readers/member, ...). Describe
 * calls loop on Marker, refusing an answer that repeats the previous marker
 * and stopping after AWS_RDS_MAX_PAGES pages.
 *
 * Size: ~820 lines, one file on purpose: sixteen operations of a dozen
 * lines each (check the required parameters, fill aws_params, call_single or
 * call_paged) and the release and decoder of each result type; the length is
 * the count of operations, not entanglement. If it grows, the release and
 * decoding half (~300 lines, already public for the fuzz target) is the part
 * to move to a file of its own.
 */
#include "pkg/aws/rds.h"

#include <string.h>

#include "pkg/aws/proto.h"
#include "pkg/base/alloc.h"
#include "pkg/base/buf.h"
#include "pkg/base/err.h"
#include "pkg/base/pool.h"

#define AWS_RDS_MAX_PAGES 1000

/* ---- release ---- */

static void free_tags(struct aws_tag *t, size_t n)
{
	for (size_t i = 0; i < n; i++) {
		free(t[i].key);
		free(t[i].value);
	}
	free(t);
}

void aws_rds_global_cluster_release(struct aws_rds_global_cluster *g)
{
	if (!g)
		return;
	free(g->identifier);
	free(g->resource_id);
	free(g->arn);
	free(g->status);
	free(g->engine);
	free(g->engine_version);
	free(g->database_name);
	free(g->endpoint);
	for (size_t i = 0; i < g->nmembers; i++) {
		struct aws_rds_global_cluster_member *m = &g->members[i];

		free(m->db_cluster_arn);
		for (size_t j = 0; j < m->nreaders; j++)
			free(m->readers[j]);
		free(m->readers);
		free(m->global_write_forwarding_status);
		free(m->synchronization_status);
	}
	free(g->members);
	free(g->failover_state.status);
	free(g->failover_state.from_db_cluster_arn);
	free(g->failover_state.to_db_cluster_arn);
	free_tags(g->tags, g->ntags);
	memset(g, 0, sizeof(*g));
}

void aws_rds_global_cluster_list_release(struct aws_rds_global_cluster_list *l)
{
	if (!l)
		return;
	base_pool_free(l->pool); /* the items too */
	memset(l, 0, sizeof(*l));
}

void aws_rds_db_cluster_release(struct aws_rds_db_cluster *c)
{
	if (!c)
		return;
	free(c->identifier);
	free(c->arn);
	free(c->resource_id);
	free(c->status);
	free(c->endpoint);
	free(c->reader_endpoint);
	free(c->engine);
	free(c->engine_version);
	free(c->global_cluster_identifier);
	free(c->global_write_forwarding_status);
	free(c->replication_source_identifier);
	free(c->hosted_zone_id);
	free(c->kms_key_id);
	free(c->master_username);
	free(c->master_user_secret_arn);
	for (size_t i = 0; i < c->nmembers; i++)
		free(c->members[i].db_instance_identifier);
	free(c->members);
	free_tags(c->tags, c->ntags);
	memset(c, 0, sizeof(*c));
}

void aws_rds_db_cluster_list_release(struct aws_rds_db_cluster_list *l)
{
	if (!l)
		return;
	base_pool_free(l->pool); /* the items too */
	memset(l, 0, sizeof(*l));
}

void aws_rds_db_instance_release(struct aws_rds_db_instance *i)
{
	if (!i)
		return;
	free(i->identifier);
	free(i->arn);
	free(i->status);
	free(i->db_instance_class);
	free(i->engine);
	free(i->db_cluster_identifier);
	free(i->endpoint_address);
	free(i->availability_zone);
	memset(i, 0, sizeof(*i));
}

void aws_rds_db_instance_list_release(struct aws_rds_db_instance_list *l)
{
	if (!l)
		return;
	base_pool_free(l->pool); /* the items too */
	memset(l, 0, sizeof(*l));
}

void aws_rds_cluster_snapshot_release(struct aws_rds_cluster_snapshot *s)
{
	if (!s)
		return;
	free(s->identifier);
	free(s->arn);
	free(s->db_cluster_identifier);
	free(s->status);
	free(s->snapshot_type);
	free(s->engine);
	free(s->engine_version);
	free(s->kms_key_id);
	memset(s, 0, sizeof(*s));
}

void aws_rds_cluster_snapshot_list_release(struct aws_rds_cluster_snapshot_list *l)
{
	if (!l)
		return;
	base_pool_free(l->pool); /* the items too */
	memset(l, 0, sizeof(*l));
}

/* ---- decoding ---- */

/*
 * A field's text: from the pool when there is one (a list's items), else
 * newly allocated (a single result, which its _release frees).
 */
static char *text_of(struct base_pool *pool, const struct aws_xml_node *n)
{
	char *t, *copy;

	if (!pool || !n)
		return aws_xml_text(n);
	if (!n->child)
		return base_pool_strndup(pool, n->text, n->text_len);
	t = aws_xml_text(n);
	copy = base_pool_strdup(pool, t);
	free(t);
	return copy;
}

static char *get(struct base_pool *pool, const struct aws_xml_node *parent, const char *path)
{
	return text_of(pool, aws_xml_path(parent, path));
}

/* n zeroed elements of size bytes, as text_of chooses. */
static void *array_of(struct base_pool *pool, size_t n, size_t size)
{
	return pool ? base_pool_alloc(pool, n * size) : xcalloc(n, size);
}

/* <TagList><Tag><Key/><Value/></Tag>…</TagList> under n into *tags, *n. */
static void decode_tags(struct base_pool *pool, const struct aws_xml_node *n, struct aws_tag **tags,
			size_t *ntags)
{
	const struct aws_xml_node *list = aws_xml_child(n, "TagList");
	size_t k = 0;

	*ntags = aws_xml_count(list, "Tag");
	*tags = array_of(pool, *ntags + 1, sizeof(**tags));
	for (const struct aws_xml_node *t = aws_xml_child(list, "Tag"); t && k < *ntags;
	     t = aws_xml_next(t), k++) {
		(*tags)[k].key = get(pool, t, "Key");
		(*tags)[k].value = get(pool, t, "Value");
	}
}

void aws_rds_decode_global_cluster(const struct aws_xml_node *n, struct aws_rds_global_cluster *g,
				   struct base_pool *pool)
{
	const struct aws_xml_node *members = aws_xml_child(n, "GlobalClusterMembers");
	const struct aws_xml_node *fs = aws_xml_child(n, "FailoverState");
	size_t k = 0;

	memset(g, 0, sizeof(*g));
	g->identifier = get(pool, n, "GlobalClusterIdentifier");
	g->resource_id = get(pool, n, "GlobalClusterResourceId");
	g->arn = get(pool, n, "GlobalClusterArn");
	g->status = get(pool, n, "Status");
	g->engine = get(pool, n, "Engine");
	g->engine_version = get(pool, n, "EngineVersion");
	g->database_name = get(pool, n, "DatabaseName");
	g->endpoint = get(pool, n, "Endpoint");
	g->storage_encrypted = aws_xml_get_bool(n, "StorageEncrypted", NULL);
	g->deletion_protection = aws_xml_get_bool(n, "DeletionProtection", NULL);
	g->nmembers = aws_xml_count(members, "GlobalClusterMember");
	g->members = array_of(pool, g->nmembers + 1, sizeof(*g->members));
	for (const struct aws_xml_node *m = aws_xml_child(members, "GlobalClusterMember");
	     m && k < g->nmembers; m = aws_xml_next(m), k++) {
		struct aws_rds_global_cluster_member *gm = &g->members[k];
		const struct aws_xml_node *readers = aws_xml_child(m, "Readers");
		size_t r = 0;

		gm->db_cluster_arn = get(pool, m, "DBClusterArn");
		gm->is_writer = aws_xml_get_bool(m, "IsWriter", NULL);
		gm->global_write_forwarding_status = get(pool, m, "GlobalWriteForwardingStatus");
		gm->synchronization_status = get(pool, m, "SynchronizationStatus");
		gm->nreaders = aws_xml_count(readers, "member");
		gm->readers = array_of(pool, gm->nreaders + 1, sizeof(char *));
		for (const struct aws_xml_node *rd = aws_xml_child(readers, "member");
		     rd && r < gm->nreaders; rd = aws_xml_next(rd))
			gm->readers[r++] = text_of(pool, rd);
	}
	if (fs) {
		g->failover_state.status = get(pool, fs, "Status");
		g->failover_state.from_db_cluster_arn = get(pool, fs, "FromDbClusterArn");
		g->failover_state.to_db_cluster_arn = get(pool, fs, "ToDbClusterArn");
		g->failover_state.is_data_loss_allowed =
			aws_xml_get_bool(fs, "IsDataLossAllowed", NULL);
		/* An empty <FailoverState/> means no operation. */
		g->failover_state.present = g->failover_state.status && *g->failover_state.status;
	}
	decode_tags(pool, n, &g->tags, &g->ntags);
}

void aws_rds_decode_db_cluster(const struct aws_xml_node *n, struct aws_rds_db_cluster *c,
			       struct base_pool *pool)
{
	const struct aws_xml_node *members = aws_xml_child(n, "DBClusterMembers");
	size_t k = 0;

	memset(c, 0, sizeof(*c));
	c->identifier = get(pool, n, "DBClusterIdentifier");
	c->arn = get(pool, n, "DBClusterArn");
	c->resource_id = get(pool, n, "DbClusterResourceId");
	c->status = get(pool, n, "Status");
	c->endpoint = get(pool, n, "Endpoint");
	c->reader_endpoint = get(pool, n, "ReaderEndpoint");
	c->port = (int)aws_xml_get_int(n, "Port");
	c->engine = get(pool, n, "Engine");
	c->engine_version = get(pool, n, "EngineVersion");
	c->global_cluster_identifier = get(pool, n, "GlobalClusterIdentifier");
	c->global_write_forwarding_status = get(pool, n, "GlobalWriteForwardingStatus");
	c->replication_source_identifier = get(pool, n, "ReplicationSourceIdentifier");
	c->hosted_zone_id = get(pool, n, "HostedZoneId");
	c->kms_key_id = get(pool, n, "KmsKeyId");
	c->master_username = get(pool, n, "MasterUsername");
	c->master_user_secret_arn = get(pool, n, "MasterUserSecret/SecretArn");
	c->storage_encrypted = aws_xml_get_bool(n, "StorageEncrypted", NULL);
	c->deletion_protection = aws_xml_get_bool(n, "DeletionProtection", NULL);
	c->nmembers = aws_xml_count(members, "DBClusterMember");
	c->members = array_of(pool, c->nmembers + 1, sizeof(*c->members));
	for (const struct aws_xml_node *m = aws_xml_child(members, "DBClusterMember");
	     m && k < c->nmembers; m = aws_xml_next(m), k++) {
		c->members[k].db_instance_identifier = get(pool, m, "DBInstanceIdentifier");
		c->members[k].is_cluster_writer = aws_xml_get_bool(m, "IsClusterWriter", NULL);
		c->members[k].promotion_tier = (int)aws_xml_get_int(m, "PromotionTier");
	}
	decode_tags(pool, n, &c->tags, &c->ntags);
}

void aws_rds_decode_db_instance(const struct aws_xml_node *n, struct aws_rds_db_instance *i,
				struct base_pool *pool)
{
	memset(i, 0, sizeof(*i));
	i->identifier = get(pool, n, "DBInstanceIdentifier");
	i->arn = get(pool, n, "DBInstanceArn");
	i->status = get(pool, n, "DBInstanceStatus");
	i->db_instance_class = get(pool, n, "DBInstanceClass");
	i->engine = get(pool, n, "Engine");
	i->db_cluster_identifier = get(pool, n, "DBClusterIdentifier");
	i->endpoint_address = get(pool, n, "Endpoint/Address");
	i->endpoint_port = (int)aws_xml_get_int(n, "Endpoint/Port");
	i->availability_zone = get(pool, n, "AvailabilityZone");
	i->promotion_tier = (int)aws_xml_get_int(n, "PromotionTier");
}

void aws_rds_decode_cluster_snapshot(const struct aws_xml_node *n,
				     struct aws_rds_cluster_snapshot *s, struct base_pool *pool)
{
	memset(s, 0, sizeof(*s));
	s->identifier = get(pool, n, "DBClusterSnapshotIdentifier");
	s->arn = get(pool, n, "DBClusterSnapshotArn");
	s->db_cluster_identifier = get(pool, n, "DBClusterIdentifier");
	s->status = get(pool, n, "Status");
	s->snapshot_type = get(pool, n, "SnapshotType");
	s->engine = get(pool, n, "Engine");
	s->engine_version = get(pool, n, "EngineVersion");
	s->kms_key_id = get(pool, n, "KmsKeyId");
	s->storage_encrypted = aws_xml_get_bool(n, "StorageEncrypted", NULL);
	s->create_time_ms = aws_xml_get_time(n, "SnapshotCreateTime");
}

/* ---- calls ---- */

static void add_opt_bool(struct aws_params *p, const char *name, enum aws_opt_bool v)
{
	if (v != AWS_UNSET)
		aws_params_add_bool(p, name, v == AWS_TRUE);
}

static void add_tags(struct aws_params *p, const struct aws_tag *tags, size_t n)
{
	for (size_t i = 0; i < n; i++) {
		aws_params_addf(p, tags[i].key, "Tags.Tag.%zu.Key", i + 1);
		aws_params_addf(p, tags[i].value ? tags[i].value : "", "Tags.Tag.%zu.Value", i + 1);
	}
}

static int required(const char *v, const char *name, const char *op, struct aws_error *err)
{
	if (v && *v)
		return 0;
	aws_error_set(err, 0, "", "%s: %s is required", op, name);
	return BASE_EINVAL;
}

/* Calls op and decodes <Result>/<elem> (a single item) with dec into out. */
typedef void (*decode_fn)(const struct aws_xml_node *, void *, struct base_pool *);

static void dec_gc(const struct aws_xml_node *n, void *o, struct base_pool *pool)
{
	aws_rds_decode_global_cluster(n, o, pool);
}

static void dec_cl(const struct aws_xml_node *n, void *o, struct base_pool *pool)
{
	aws_rds_decode_db_cluster(n, o, pool);
}

static void dec_in(const struct aws_xml_node *n, void *o, struct base_pool *pool)
{
	aws_rds_decode_db_instance(n, o, pool);
}

static void dec_sn(const struct aws_xml_node *n, void *o, struct base_pool *pool)
{
	aws_rds_decode_cluster_snapshot(n, o, pool);
}

static int call_single(struct aws_client *c, const char *region, const char *op,
		       struct aws_params *p, int flags, const char *elem, decode_fn dec, void *out,
		       struct aws_error *err)
{
	struct aws_xml_doc *doc = NULL;
	const struct aws_xml_node *res, *node;
	int rc = aws_query_call(c, &aws_svc_rds, region, op, p, flags, &doc, &res, err);

	aws_params_release(p);
	if (rc < 0)
		return rc;
	node = aws_xml_child(res, elem);
	if (!node) {
		aws_error_set(err, 200, "", "%s: answer without %s", op, elem);
		rc = BASE_EPARSE;
	} else if (out) {
		dec(node, out, NULL);
	}
	aws_xml_free(doc);
	return rc;
}

/*
 * Calls a Describe op page by page and decodes each page's <list>/<item>
 * elements into the array *items (element size sz, count *n), which is in
 * the pool *pool, made here, with the items' strings. Until the last page the
 * items gather in a buffer (a mapping once large), so that the pages leave
 * no trail of outgrown arrays in the heap; the pool gets one copy.
 */
static int call_paged(struct aws_client *c, const char *region, const char *op,
		      const struct aws_params *base, const char *list, const char *item,
		      decode_fn dec, size_t sz, void **items, size_t *n, struct base_pool **pool,
		      struct aws_error *err)
{
	struct base_buf acc = BASE_BUF_INIT(0);
	void *one = xmalloc(sz);
	char *marker = NULL;
	int rc = 0;

	*items = NULL;
	*n = 0;
	*pool = base_pool_new();
	for (int page = 0; page < AWS_RDS_MAX_PAGES; page++) {
		struct aws_params p = AWS_PARAMS_INIT;
		struct aws_xml_doc *doc = NULL;
		const struct aws_xml_node *res;
		char *next;

		for (size_t i = 0; i < base->n; i++)
			aws_params_add(&p, base->items[i].name, base->items[i].value);
		aws_params_add(&p, "Marker", marker);
		rc = aws_query_call(c, &aws_svc_rds, region, op, &p, 0, &doc, &res, err);
		aws_params_release(&p);
		if (rc < 0)
			break;
		for (const struct aws_xml_node *it = aws_xml_child(aws_xml_child(res, list), item);
		     it; it = aws_xml_next(it)) {
			dec(it, one, *pool);
			base_buf_add(&acc, one, sz); /* uncapped: cannot fail */
			(*n)++;
		}
		next = aws_xml_get(res, "Marker");
		aws_xml_free(doc);
		if (!next || !*next) {
			free(next);
			break;
		}
		if (marker && strcmp(marker, next) == 0) {
			free(next);
			aws_error_set(err, 200, "", "%s: the same Marker came back twice", op);
			rc = BASE_EPARSE;
			break;
		}
		free(marker);
		marker = next;
	}
	free(marker);
	free(one);
	if (*n)
		*items = memcpy(base_pool_alloc(*pool, acc.len), acc.data, acc.len);
	base_buf_release(&acc);
	return rc;
}

int aws_rds_describe_global_clusters(struct aws_client *c, const char *region,
				     const char *global_cluster_id, const char *filter_region,
				     struct aws_rds_global_cluster_list *out, struct aws_error *err)
{
	struct aws_params p = AWS_PARAMS_INIT;
	void *items;
	int rc;

	memset(out, 0, sizeof(*out));
	aws_params_add(&p, "GlobalClusterIdentifier", global_cluster_id);
	if (filter_region) {
		aws_params_add(&p, "Filters.Filter.1.Name", "region");
		aws_params_add(&p, "Filters.Filter.1.Values.Value.1", filter_region);
	}
	rc = call_paged(c, region, "DescribeGlobalClusters", &p, "GlobalClusters",
			"GlobalClusterMember", dec_gc, sizeof(struct aws_rds_global_cluster),
			&items, &out->n, &out->pool, err);
	aws_params_release(&p);
	out->items = items;
	if (rc < 0)
		aws_rds_global_cluster_list_release(out);
	return rc;
}

int aws_rds_create_global_cluster(struct aws_client *c, const char *region,
				  const struct aws_rds_create_global_cluster_input *in,
				  struct aws_rds_global_cluster *out, struct aws_error *err)
{
	struct aws_params p = AWS_PARAMS_INIT;
	int rc = required(in->global_cluster_identifier, "GlobalClusterIdentifier",
			  "CreateGlobalCluster", err);

	memset(out, 0, sizeof(*out));
	if (rc < 0)
		return rc;
	aws_params_add(&p, "GlobalClusterIdentifier", in->global_cluster_identifier);
	aws_params_add(&p, "SourceDBClusterIdentifier", in->source_db_cluster_arn);
	aws_params_add(&p, "Engine", in->engine);
	aws_params_add(&p, "EngineVersion", in->engine_version);
	aws_params_add(&p, "DatabaseName", in->database_name);
	add_opt_bool(&p, "StorageEncrypted", in->storage_encrypted);
	add_opt_bool(&p, "DeletionProtection", in->deletion_protection);
	add_tags(&p, in->tags, in->ntags);
	return call_single(c, region, "CreateGlobalCluster", &p, AWS_CALL_NOT_IDEMPOTENT,
			   "GlobalCluster", dec_gc, out, err);
}

int aws_rds_delete_global_cluster(struct aws_client *c, const char *region,
				  const char *global_cluster_id, struct aws_rds_global_cluster *out,
				  struct aws_error *err)
{
	struct aws_params p = AWS_PARAMS_INIT;
	int rc = required(global_cluster_id, "GlobalClusterIdentifier", "DeleteGlobalCluster", err);

	memset(out, 0, sizeof(*out));
	if (rc < 0)
		return rc;
	aws_params_add(&p, "GlobalClusterIdentifier", global_cluster_id);
	return call_single(c, region, "DeleteGlobalCluster", &p, AWS_CALL_NOT_IDEMPOTENT,
			   "GlobalCluster", dec_gc, out, err);
}

/*
 * RemoveFromGlobalCluster: AWS answers with the global cluster; an empty
 * result (moto's no-op outside us-east-1) decodes as an empty struct.
 */
int aws_rds_remove_from_global_cluster(struct aws_client *c, const char *region,
				       const char *global_cluster_id, const char *db_cluster_arn,
				       struct aws_rds_global_cluster *out, struct aws_error *err)
{
	struct aws_params p = AWS_PARAMS_INIT;
	struct aws_xml_doc *doc = NULL;
	const struct aws_xml_node *res, *node;
	int rc;

	memset(out, 0, sizeof(*out));
	if ((rc = required(global_cluster_id, "GlobalClusterIdentifier", "RemoveFromGlobalCluster",
			   err)) < 0 ||
	    (rc = required(db_cluster_arn, "DbClusterIdentifier", "RemoveFromGlobalCluster", err)) <
		    0)
		return rc;
	aws_params_add(&p, "GlobalClusterIdentifier", global_cluster_id);
	aws_params_add(&p, "DbClusterIdentifier", db_cluster_arn);
	rc = aws_query_call(c, &aws_svc_rds, region, "RemoveFromGlobalCluster", &p,
			    AWS_CALL_NOT_IDEMPOTENT, &doc, &res, err);
	aws_params_release(&p);
	if (rc < 0)
		return rc;
	node = aws_xml_child(res, "GlobalCluster");
	if (node)
		aws_rds_decode_global_cluster(node, out, NULL);
	aws_xml_free(doc);
	return 0;
}

int aws_rds_failover_global_cluster(struct aws_client *c, const char *region,
				    const char *global_cluster_id,
				    const char *target_db_cluster_arn, int allow_data_loss,
				    struct aws_rds_global_cluster *out, struct aws_error *err)
{
	struct aws_params p = AWS_PARAMS_INIT;
	int rc;

	memset(out, 0, sizeof(*out));
	if ((rc = required(global_cluster_id, "GlobalClusterIdentifier", "FailoverGlobalCluster",
			   err)) < 0 ||
	    (rc = required(target_db_cluster_arn, "TargetDbClusterIdentifier",
			   "FailoverGlobalCluster", err)) < 0)
		return rc;
	aws_params_add(&p, "GlobalClusterIdentifier", global_cluster_id);
	aws_params_add(&p, "TargetDbClusterIdentifier", target_db_cluster_arn);
	if (allow_data_loss)
		aws_params_add_bool(&p, "AllowDataLoss", 1);
	else
		aws_params_add_bool(&p, "Switchover", 1);
	return call_single(c, region, "FailoverGlobalCluster", &p, AWS_CALL_NOT_IDEMPOTENT,
			   "GlobalCluster", dec_gc, out, err);
}

int aws_rds_switchover_global_cluster(struct aws_client *c, const char *region,
				      const char *global_cluster_id,
				      const char *target_db_cluster_arn,
				      struct aws_rds_global_cluster *out, struct aws_error *err)
{
	struct aws_params p = AWS_PARAMS_INIT;
	int rc;

	memset(out, 0, sizeof(*out));
	if ((rc = required(global_cluster_id, "GlobalClusterIdentifier", "SwitchoverGlobalCluster",
			   err)) < 0 ||
	    (rc = required(target_db_cluster_arn, "TargetDbClusterIdentifier",
			   "SwitchoverGlobalCluster", err)) < 0)
		return rc;
	aws_params_add(&p, "GlobalClusterIdentifier", global_cluster_id);
	aws_params_add(&p, "TargetDbClusterIdentifier", target_db_cluster_arn);
	return call_single(c, region, "SwitchoverGlobalCluster", &p, AWS_CALL_NOT_IDEMPOTENT,
			   "GlobalCluster", dec_gc, out, err);
}

int aws_rds_add_tags_to_resource(struct aws_client *c, const char *region, const char *arn,
				 const struct aws_tag *tags, size_t ntags, struct aws_error *err)
{
	struct aws_params p = AWS_PARAMS_INIT;
	struct aws_xml_doc *doc = NULL;
	const struct aws_xml_node *res;
	int rc = required(arn, "ResourceName", "AddTagsToResource", err);

	if (rc < 0)
		return rc;
	if (ntags == 0)
		return required(NULL, "Tags", "AddTagsToResource", err);
	aws_params_add(&p, "ResourceName", arn);
	add_tags(&p, tags, ntags);
	rc = aws_query_call(c, &aws_svc_rds, region, "AddTagsToResource", &p, 0, &doc, &res, err);
	aws_params_release(&p);
	aws_xml_free(doc);
	return rc;
}

int aws_rds_describe_db_clusters(struct aws_client *c, const char *region,
				 const char *db_cluster_id, const char *filter_engine,
				 struct aws_rds_db_cluster_list *out, struct aws_error *err)
{
	struct aws_params p = AWS_PARAMS_INIT;
	void *items;
	int rc;

	memset(out, 0, sizeof(*out));
	aws_params_add(&p, "DBClusterIdentifier", db_cluster_id);
	if (filter_engine) {
		aws_params_add(&p, "Filters.Filter.1.Name", "engine");
		aws_params_add(&p, "Filters.Filter.1.Values.Value.1", filter_engine);
	}
	rc = call_paged(c, region, "DescribeDBClusters", &p, "DBClusters", "DBCluster", dec_cl,
			sizeof(struct aws_rds_db_cluster), &items, &out->n, &out->pool, err);
	aws_params_release(&p);
	out->items = items;
	if (rc < 0)
		aws_rds_db_cluster_list_release(out);
	return rc;
}

int aws_rds_create_db_cluster(struct aws_client *c, const char *region,
			      const struct aws_rds_create_db_cluster_input *in,
			      struct aws_rds_db_cluster *out, struct aws_error *err)
{
	struct aws_params p = AWS_PARAMS_INIT;
	int rc;

	memset(out, 0, sizeof(*out));
	if ((rc = required(in->db_cluster_identifier, "DBClusterIdentifier", "CreateDBCluster",
			   err)) < 0 ||
	    (rc = required(in->engine, "Engine", "CreateDBCluster", err)) < 0)
		return rc;
	aws_params_add(&p, "DBClusterIdentifier", in->db_cluster_identifier);
	aws_params_add(&p, "Engine", in->engine);
	aws_params_add(&p, "EngineVersion", in->engine_version);
	aws_params_add(&p, "GlobalClusterIdentifier", in->global_cluster_identifier);
	aws_params_add(&p, "MasterUsername", in->master_username);
	aws_params_add(&p, "MasterUserPassword", in->master_user_password);
	add_opt_bool(&p, "ManageMasterUserPassword", in->manage_master_user_password);
	aws_params_add(&p, "DatabaseName", in->database_name);
	aws_params_add(&p, "DBSubnetGroupName", in->db_subnet_group_name);
	for (size_t i = 0; i < in->nvpc_security_group_ids; i++)
		aws_params_addf(&p, in->vpc_security_group_ids[i],
				"VpcSecurityGroupIds.VpcSecurityGroupId.%zu", i + 1);
	aws_params_add(&p, "DBClusterParameterGroupName", in->db_cluster_parameter_group_name);
	if (in->port > 0)
		aws_params_add_int(&p, "Port", in->port);
	aws_params_add(&p, "KmsKeyId", in->kms_key_id);
	add_opt_bool(&p, "StorageEncrypted", in->storage_encrypted);
	add_opt_bool(&p, "DeletionProtection", in->deletion_protection);
	add_opt_bool(&p, "EnableGlobalWriteForwarding", in->enable_global_write_forwarding);
	add_tags(&p, in->tags, in->ntags);
	return call_single(c, region, "CreateDBCluster", &p, AWS_CALL_NOT_IDEMPOTENT, "DBCluster",
			   dec_cl, out, err);
}

int aws_rds_delete_db_cluster(struct aws_client *c, const char *region, const char *db_cluster_id,
			      int skip_final_snapshot, const char *final_snapshot_identifier,
			      struct aws_rds_db_cluster *out, struct aws_error *err)
{
	struct aws_params p = AWS_PARAMS_INIT;
	int rc = required(db_cluster_id, "DBClusterIdentifier", "DeleteDBCluster", err);

	memset(out, 0, sizeof(*out));
	if (rc < 0)
		return rc;
	if (!!skip_final_snapshot == !!(final_snapshot_identifier && *final_snapshot_identifier)) {
		aws_error_set(err, 0, "",
			      "DeleteDBCluster: give either SkipFinalSnapshot or "
			      "FinalDBSnapshotIdentifier");
		return BASE_EINVAL;
	}
	aws_params_add(&p, "DBClusterIdentifier", db_cluster_id);
	if (skip_final_snapshot)
		aws_params_add_bool(&p, "SkipFinalSnapshot", 1);
	else
		aws_params_add(&p, "FinalDBSnapshotIdentifier", final_snapshot_identifier);
	return call_single(c, region, "DeleteDBCluster", &p, AWS_CALL_NOT_IDEMPOTENT, "DBCluster",
			   dec_cl, out, err);
}

int aws_rds_modify_db_cluster(struct aws_client *c, const char *region,
			      const struct aws_rds_modify_db_cluster_input *in,
			      struct aws_rds_db_cluster *out, struct aws_error *err)
{
	struct aws_params p = AWS_PARAMS_INIT;
	int rc = required(in->db_cluster_identifier, "DBClusterIdentifier", "ModifyDBCluster", err);

	memset(out, 0, sizeof(*out));
	if (rc < 0)
		return rc;
	aws_params_add(&p, "DBClusterIdentifier", in->db_cluster_identifier);
	add_opt_bool(&p, "ApplyImmediately", in->apply_immediately);
	add_opt_bool(&p, "DeletionProtection", in->deletion_protection);
	add_opt_bool(&p, "EnableGlobalWriteForwarding", in->enable_global_write_forwarding);
	aws_params_add(&p, "EngineVersion", in->engine_version);
	add_opt_bool(&p, "AllowMajorVersionUpgrade", in->allow_major_version_upgrade);
	aws_params_add(&p, "NewDBClusterIdentifier", in->new_db_cluster_identifier);
	aws_params_add(&p, "MasterUserPassword", in->master_user_password);
	aws_params_add(&p, "DBClusterParameterGroupName", in->db_cluster_parameter_group_name);
	if (in->backup_retention_period > 0)
		aws_params_add_int(&p, "BackupRetentionPeriod", in->backup_retention_period);
	return call_single(c, region, "ModifyDBCluster", &p, 0, "DBCluster", dec_cl, out, err);
}

int aws_rds_create_db_instance(struct aws_client *c, const char *region,
			       const struct aws_rds_create_db_instance_input *in,
			       struct aws_rds_db_instance *out, struct aws_error *err)
{
	struct aws_params p = AWS_PARAMS_INIT;
	int rc;

	memset(out, 0, sizeof(*out));
	if ((rc = required(in->db_instance_identifier, "DBInstanceIdentifier", "CreateDBInstance",
			   err)) < 0 ||
	    (rc = required(in->db_instance_class, "DBInstanceClass", "CreateDBInstance", err)) <
		    0 ||
	    (rc = required(in->engine, "Engine", "CreateDBInstance", err)) < 0)
		return rc;
	aws_params_add(&p, "DBInstanceIdentifier", in->db_instance_identifier);
	aws_params_add(&p, "DBInstanceClass", in->db_instance_class);
	aws_params_add(&p, "Engine", in->engine);
	aws_params_add(&p, "DBClusterIdentifier", in->db_cluster_identifier);
	if (in->promotion_tier >= 0)
		aws_params_add_int(&p, "PromotionTier", in->promotion_tier);
	aws_params_add(&p, "AvailabilityZone", in->availability_zone);
	aws_params_add(&p, "DBParameterGroupName", in->db_parameter_group_name);
	add_opt_bool(&p, "PubliclyAccessible", in->publicly_accessible);
	add_tags(&p, in->tags, in->ntags);
	return call_single(c, region, "CreateDBInstance", &p, AWS_CALL_NOT_IDEMPOTENT, "DBInstance",
			   dec_in, out, err);
}

int aws_rds_delete_db_instance(struct aws_client *c, const char *region, const char *db_instance_id,
			       int skip_final_snapshot, struct aws_rds_db_instance *out,
			       struct aws_error *err)
{
	struct aws_params p = AWS_PARAMS_INIT;
	int rc = required(db_instance_id, "DBInstanceIdentifier", "DeleteDBInstance", err);

	memset(out, 0, sizeof(*out));
	if (rc < 0)
		return rc;
	aws_params_add(&p, "DBInstanceIdentifier", db_instance_id);
	aws_params_add_bool(&p, "SkipFinalSnapshot", skip_final_snapshot);
	return call_single(c, region, "DeleteDBInstance", &p, AWS_CALL_NOT_IDEMPOTENT, "DBInstance",
			   dec_in, out, err);
}

int aws_rds_describe_db_instances(struct aws_client *c, const char *region,
				  const char *db_instance_id, const char *filter_cluster_id,
				  struct aws_rds_db_instance_list *out, struct aws_error *err)
{
	struct aws_params p = AWS_PARAMS_INIT;
	void *items;
	int rc;

	memset(out, 0, sizeof(*out));
	aws_params_add(&p, "DBInstanceIdentifier", db_instance_id);
	if (filter_cluster_id) {
		aws_params_add(&p, "Filters.Filter.1.Name", "db-cluster-id");
		aws_params_add(&p, "Filters.Filter.1.Values.Value.1", filter_cluster_id);
	}
	rc = call_paged(c, region, "DescribeDBInstances", &p, "DBInstances", "DBInstance", dec_in,
			sizeof(struct aws_rds_db_instance), &items, &out->n, &out->pool, err);
	aws_params_release(&p);
	out->items = items;
	if (rc < 0)
		aws_rds_db_instance_list_release(out);
	return rc;
}

int aws_rds_describe_db_cluster_snapshots(struct aws_client *c, const char *region,
					  const char *db_cluster_id, const char *snapshot_id,
					  const char *snapshot_type,
					  struct aws_rds_cluster_snapshot_list *out,
					  struct aws_error *err)
{
	struct aws_params p = AWS_PARAMS_INIT;
	void *items;
	int rc;

	memset(out, 0, sizeof(*out));
	aws_params_add(&p, "DBClusterIdentifier", db_cluster_id);
	aws_params_add(&p, "DBClusterSnapshotIdentifier", snapshot_id);
	aws_params_add(&p, "SnapshotType", snapshot_type);
	rc = call_paged(c, region, "DescribeDBClusterSnapshots", &p, "DBClusterSnapshots",
			"DBClusterSnapshot", dec_sn, sizeof(struct aws_rds_cluster_snapshot),
			&items, &out->n, &out->pool, err);
	aws_params_release(&p);
	out->items = items;
	if (rc < 0)
		aws_rds_cluster_snapshot_list_release(out);
	return rc;
}

int aws_rds_copy_db_cluster_snapshot(struct aws_client *c, const char *region,
				     const char *source_snapshot_id, const char *target_snapshot_id,
				     const char *kms_key_id, enum aws_opt_bool copy_tags,
				     struct aws_rds_cluster_snapshot *out, struct aws_error *err)
{
	struct aws_params p = AWS_PARAMS_INIT;
	int rc;

	memset(out, 0, sizeof(*out));
	if ((rc = required(source_snapshot_id, "SourceDBClusterSnapshotIdentifier",
			   "CopyDBClusterSnapshot", err)) < 0 ||
	    (rc = required(target_snapshot_id, "TargetDBClusterSnapshotIdentifier",
			   "CopyDBClusterSnapshot", err)) < 0)
		return rc;
	aws_params_add(&p, "SourceDBClusterSnapshotIdentifier", source_snapshot_id);
	aws_params_add(&p, "TargetDBClusterSnapshotIdentifier", target_snapshot_id);
	aws_params_add(&p, "KmsKeyId", kms_key_id);
	add_opt_bool(&p, "CopyTags", copy_tags);
	return call_single(c, region, "CopyDBClusterSnapshot", &p, AWS_CALL_NOT_IDEMPOTENT,
			   "DBClusterSnapshot", dec_sn, out, err);
}
