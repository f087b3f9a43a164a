/*
 * The guard's round against DynamoDB (guard_io.h). Every write names exactly
 * the attributes and values its expressions use (DynamoDB refuses unused
 * placeholders). The region that answered the lease read serves the round;
 * a write that gets no answer there is tried in the next regions, which is
 * safe because every write is conditional on what was read and the table is
 * strongly consistent across its replicas.
 */
#include "pkg/globaldb/guard_io.h"

#include <inttypes.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "pkg/aws/dynamodb.h"
#include "pkg/base/alloc.h"
#include "pkg/base/err.h"
#include "pkg/base/log.h"
#include "pkg/base/map.h"
#include "pkg/base/metrics.h"
#include "pkg/base/timeutil.h"

struct peer_seen {
	char *id;
	int seen;
	int64_t version;
	int64_t changed_mono;
};

struct guard_key {
	char *key;
	int lease_seen;
	int64_t epoch, version, changed_mono;
	struct peer_seen peers[GDB_GUARD_MAX_PEERS];
	size_t n_peers;
	int64_t my_version;
	const char *last_reason;
	/*
	 * The detach an operator's approval may approve: its epoch, and when this
	 * process first saw it (wall clock, whole seconds, as the annotation is).
	 */
	int64_t detach_epoch, detach_seen_ms;
	struct guard_key *next;
};

struct gdb_guard {
	struct aws_client *aws;
	char *table, *id, *region, *owner_uid;
	char *regions[GDB_GUARD_MAX_REGIONS];
	size_t n_regions;
	int64_t lease_ms, margin_ms;
	pthread_mutex_t lock;
	struct base_map keys; /* key -> guard_key, and the same in a list */
	struct guard_key *list;
};

static struct base_metric *m_calls, *m_decisions;
static pthread_once_t metrics_once = PTHREAD_ONCE_INIT;

static void metrics_init(void)
{
	m_calls = base_metric_counter("globaldb_guard_calls_total",
				      "DynamoDB calls of the two-controller guard",
				      "operation,result");
	m_decisions =
		base_metric_counter("globaldb_guard_decisions_total",
				    "Decisions of the two-controller guard", "decision,reason");
}

struct gdb_guard *gdb_guard_new(struct aws_client *aws, const struct gdb_guard_config *cfg)
{
	struct gdb_guard *g;

	if (!aws || !cfg->table || !*cfg->table || !cfg->controller_id || !*cfg->controller_id ||
	    !cfg->region || !*cfg->region || cfg->n_regions == 0 ||
	    cfg->n_regions > GDB_GUARD_MAX_REGIONS)
		return NULL;
	pthread_once(&metrics_once, metrics_init);
	g = xcalloc(1, sizeof(*g));
	g->aws = aws;
	g->table = xstrdup(cfg->table);
	g->owner_uid = xasprintf("guard:%s", cfg->table);
	g->id = xstrdup(cfg->controller_id);
	g->region = xstrdup(cfg->region);
	for (size_t i = 0; i < cfg->n_regions; i++)
		g->regions[g->n_regions++] = xstrdup(cfg->regions[i]);
	g->lease_ms = cfg->lease_ms > 0 ? cfg->lease_ms : GDB_GUARD_LEASE_MS;
	g->margin_ms = cfg->margin_ms > 0 ? cfg->margin_ms : GDB_GUARD_MARGIN_MS;
	pthread_mutex_init(&g->lock, NULL);
	return g;
}

static void key_free(struct guard_key *k)
{
	if (!k)
		return;
	for (size_t i = 0; i < k->n_peers; i++)
		free(k->peers[i].id);
	free(k->key);
	free(k);
}

void gdb_guard_forget(struct gdb_guard *g, const char *key)
{
	struct guard_key *k;

	if (!g)
		return;
	pthread_mutex_lock(&g->lock);
	k = base_map_remove(&g->keys, key);
	for (struct guard_key **pp = &g->list; k && *pp; pp = &(*pp)->next) {
		if (*pp == k) {
			*pp = k->next;
			break;
		}
	}
	pthread_mutex_unlock(&g->lock);
	key_free(k);
}

void gdb_guard_free(struct gdb_guard *g)
{
	struct guard_key *k, *next;

	if (!g)
		return;
	for (k = g->list; k; k = next) {
		next = k->next;
		key_free(k);
	}
	base_map_release(&g->keys);
	for (size_t i = 0; i < g->n_regions; i++)
		free(g->regions[i]);
	free(g->table);
	free(g->owner_uid);
	free(g->id);
	free(g->region);
	pthread_mutex_destroy(&g->lock);
	free(g);
}

const char *gdb_guard_controller_id(const struct gdb_guard *g)
{
	return g->id;
}

const char *gdb_guard_owner_uid(const struct gdb_guard *g)
{
	return g->owner_uid;
}

static struct guard_key *key_get(struct gdb_guard *g, const char *key)
{
	struct guard_key *k;

	pthread_mutex_lock(&g->lock);
	k = base_map_get(&g->keys, key);
	if (!k) {
		k = xcalloc(1, sizeof(*k));
		k->key = xstrdup(key);
		/* Distinct from any version an earlier run of this controller wrote. */
		k->my_version = base_now_real_ms();
		base_map_put(&g->keys, k->key, k);
		k->next = g->list;
		g->list = k;
	}
	pthread_mutex_unlock(&g->lock);
	return k;
}

/* Whether an answer (success or a refused condition) came from the region. */
static int answered(int rc)
{
	return rc == 0 || rc == BASE_ECONFLICT;
}

static void count(const char *op, int rc)
{
	base_metric_add(m_calls, 1, op,
			rc == 0		       ? "ok"
			: rc == BASE_ECONFLICT ? "conflict"
					       : base_errname(rc));
}

/* ---- reads ---- */

struct lease_read {
	struct aws_dynamodb_item item;
	int found;
	struct gdb_guard_lease lease;
	char *peer_ids[GDB_GUARD_MAX_PEERS];
	char *peer_regions[GDB_GUARD_MAX_PEERS];
	size_t n_peer_ids;
};

static void lease_decode(struct lease_read *lr)
{
	const struct aws_dynamodb_item *it = &lr->item, *m;
	struct gdb_guard_lease *l = &lr->lease;

	memset(l, 0, sizeof(*l));
	l->exists = lr->found;
	if (!lr->found)
		return;
	l->epoch = aws_dynamodb_item_n(it, "epoch", 0);
	l->version = aws_dynamodb_item_n(it, "version", 0);
	l->holder = aws_dynamodb_item_s(it, "holder");
	if (l->holder && !*l->holder)
		l->holder = NULL;
	l->holder_region = aws_dynamodb_item_s(it, "holderRegion");
	l->op = gdb_guard_op_parse(aws_dynamodb_item_s(it, "operation"));
	l->source = aws_dynamodb_item_s(it, "source");
	l->target = aws_dynamodb_item_s(it, "target");
	l->approval = aws_dynamodb_item_n(it, "approval", 0);
	if ((m = aws_dynamodb_item_m(it, "ended"))) {
		l->ended_op = gdb_guard_op_parse(aws_dynamodb_item_s(m, "operation"));
		l->ended_source = aws_dynamodb_item_s(m, "source");
		l->ended_target = aws_dynamodb_item_s(m, "target");
		l->ended_by = aws_dynamodb_item_s(m, "by");
	}
	if ((m = aws_dynamodb_item_m(it, "cosign")))
		for (size_t i = 0; i < m->n && l->n_cosigns < GDB_GUARD_MAX_PEERS; i++)
			if (m->attrs[i].type == AWS_DYNAMODB_N && m->attrs[i].n_ok)
				l->cosigns[l->n_cosigns++] =
					(struct gdb_guard_cosign){m->attrs[i].name, m->attrs[i].n};
	if ((m = aws_dynamodb_item_m(it, "peers")))
		for (size_t i = 0; i < m->n && lr->n_peer_ids < GDB_GUARD_MAX_PEERS; i++)
			if (m->attrs[i].type == AWS_DYNAMODB_S) {
				lr->peer_ids[lr->n_peer_ids] = m->attrs[i].name;
				lr->peer_regions[lr->n_peer_ids++] = m->attrs[i].s;
			}
}

/* Reads the lease in the first region that answers; its index, or -1. */
static int read_lease(struct gdb_guard *g, const struct aws_dynamodb_item *key,
		      struct lease_read *lr)
{
	for (size_t i = 0; i < g->n_regions; i++) {
		struct aws_error err;
		int rc = aws_dynamodb_get_item(g->aws, g->regions[i], g->table, key, 1, &lr->item,
					       &lr->found, &err);

		count("GetItem", rc);
		if (rc == 0) {
			lease_decode(lr);
			return (int)i;
		}
		base_log(BASE_LOG_WARN, "guard region did not answer", "region", g->regions[i],
			 "code", err.code, "error", err.message, NULL);
	}
	return -1;
}

/* ---- writes ---- */

/*
 * Makes a write in region `first` and, when it gets no answer there, in the
 * regions after it. 0, BASE_ECONFLICT, or the last "no answer" code.
 */
static int write_any(struct gdb_guard *g, int first, const struct aws_dynamodb_item *key,
		     const struct aws_dynamodb_item *put, const char *update,
		     const struct aws_dynamodb_cond *cond)
{
	int rc = BASE_ETRANSPORT;

	for (size_t i = (size_t)first; i < g->n_regions; i++) {
		struct aws_error err;

		if (put)
			rc = aws_dynamodb_put_item(g->aws, g->regions[i], g->table, put, cond,
						   &err);
		else
			rc = aws_dynamodb_update_item(g->aws, g->regions[i], g->table, key, update,
						      cond, &err);
		count(put ? "PutItem" : "UpdateItem", rc);
		if (answered(rc))
			return rc;
	}
	return rc;
}

static void publish_verdict(struct gdb_guard *g, struct guard_key *k, enum gdb_guard_seen mine,
			    const char *primary)
{
	struct aws_dynamodb_item it = AWS_DYNAMODB_ITEM_INIT;
	char *pk = xasprintf("verdict/%s/%s", k->key, g->id);

	aws_dynamodb_item_set_s(&it, "pk", pk);
	aws_dynamodb_item_set_s(&it, "controller", g->id);
	aws_dynamodb_item_set_s(&it, "region", g->region);
	aws_dynamodb_item_set_s(&it, "seen", gdb_guard_seen_name(mine));
	if (primary && *primary)
		aws_dynamodb_item_set_s(&it, "primary", primary);
	aws_dynamodb_item_set_n(&it, "version", ++k->my_version);
	write_any(g, 0, NULL, &it, NULL, NULL);
	aws_dynamodb_item_release(&it);
	free(pk);
}

/* Creates the lease item (if absent) and puts me in its peers. */
static void register_me(struct gdb_guard *g, int region, const struct aws_dynamodb_item *key,
			const struct lease_read *lr)
{
	static const char *const names[] = {"#p", "peers", "#me", NULL, NULL};
	const char *n[5] = {names[0], names[1], names[2], g->id, NULL};
	struct aws_dynamodb_item it = AWS_DYNAMODB_ITEM_INIT, vals = AWS_DYNAMODB_ITEM_INIT;
	struct aws_dynamodb_cond create = {"attribute_not_exists(pk)", NULL, NULL};
	struct aws_dynamodb_cond exists = {"attribute_exists(pk)", n, &vals};

	if (!lr->found) {
		aws_dynamodb_item_set_s(&it, "pk", aws_dynamodb_item_s(key, "pk"));
		aws_dynamodb_item_set_n(&it, "epoch", 0);
		aws_dynamodb_item_set_n(&it, "version", 0);
		aws_dynamodb_item_set_s(&it, "operation", "");
		aws_dynamodb_item_set_m(&it, "cosign");
		aws_dynamodb_item_set_s(aws_dynamodb_item_set_m(&it, "peers"), g->id, g->region);
		if (write_any(g, region, NULL, &it, NULL, &create) != BASE_ECONFLICT)
			goto out;
	}
	for (size_t i = 0; i < lr->n_peer_ids; i++)
		if (strcmp(lr->peer_ids[i], g->id) == 0 &&
		    strcmp(lr->peer_regions[i], g->region) == 0)
			goto out;
	aws_dynamodb_item_set_s(&vals, ":r", g->region);
	write_any(g, region, key, NULL, "SET #p.#me = :r", &exists);
out:
	aws_dynamodb_item_release(&it);
	aws_dynamodb_item_release(&vals);
}

/* The conditional write of the decision. 0, BASE_ECONFLICT or a "no answer" code. */
static int decision_write(struct gdb_guard *g, int region, const struct aws_dynamodb_item *key,
			  const struct gdb_guard_lease *l, const struct gdb_guard_intent *want,
			  const struct gdb_guard_decision *d)
{
	enum gdb_guard_write w = d->write;
	struct aws_dynamodb_item vals = AWS_DYNAMODB_ITEM_INIT;
	const char *n[24];
	size_t nn = 0;
	const char *update, *cond;
	struct aws_dynamodb_cond c;
	int rc;

#define NAME(ph, attr) (n[nn++] = (ph), n[nn++] = (attr))
	aws_dynamodb_item_set_n(&vals, ":e", l->epoch);
	NAME("#e", "epoch");
	switch (w) {
	case GDB_GUARD_WRITE_ACQUIRE:
	case GDB_GUARD_WRITE_TAKEOVER:
	case GDB_GUARD_WRITE_CLEAR:
		NAME("#h", "holder");
		NAME("#hr", "holderRegion");
		NAME("#v", "version");
		aws_dynamodb_item_set_n(&vals, ":next", l->epoch + 1);
		aws_dynamodb_item_set_s(&vals, ":me", g->id);
		aws_dynamodb_item_set_s(&vals, ":myr", g->region);
		aws_dynamodb_item_set_n(&vals, ":one", 1);
		/* A new holder or a cleared operation: the last one's "ended" no longer holds. */
		NAME("#end", "ended");
		if (w == GDB_GUARD_WRITE_TAKEOVER) {
			update = "SET #e = :next, #h = :me, #hr = :myr, #v = #v + :one REMOVE #end";
			cond = "#e = :e AND #v = :ver";
			aws_dynamodb_item_set_n(&vals, ":ver", l->version);
			break;
		}
		NAME("#op", "operation");
		NAME("#src", "source");
		NAME("#tgt", "target");
		update = "SET #e = :next, #h = :me, #hr = :myr, #v = #v + :one, #op = :op, "
			 "#src = :src, #tgt = :tgt REMOVE #end";
		if (w == GDB_GUARD_WRITE_ACQUIRE) {
			aws_dynamodb_item_set_s(&vals, ":op", gdb_guard_op_name(want->op));
			aws_dynamodb_item_set_s(&vals, ":src", want->source ? want->source : "");
			aws_dynamodb_item_set_s(&vals, ":tgt", want->target ? want->target : "");
			aws_dynamodb_item_set_s(&vals, ":none", "");
			cond = "#e = :e AND #op = :none";
		} else {
			aws_dynamodb_item_set_s(&vals, ":op", "");
			aws_dynamodb_item_set_s(&vals, ":src", "");
			aws_dynamodb_item_set_s(&vals, ":tgt", "");
			aws_dynamodb_item_set_n(&vals, ":ver", l->version);
			cond = "#e = :e AND #v = :ver";
		}
		break;
	case GDB_GUARD_WRITE_RENEW:
	case GDB_GUARD_WRITE_RELEASE:
		NAME("#h", "holder");
		NAME("#v", "version");
		aws_dynamodb_item_set_s(&vals, ":me", g->id);
		aws_dynamodb_item_set_n(&vals, ":one", 1);
		cond = "#e = :e AND #h = :me";
		update = "SET #v = #v + :one";
		if (w == GDB_GUARD_WRITE_RELEASE) {
			NAME("#op", "operation");
			NAME("#src", "source");
			NAME("#tgt", "target");
			aws_dynamodb_item_set_s(&vals, ":none", "");
			update = "SET #v = #v + :one, #op = :none, #src = :none, #tgt = :none";
		}
		if (w == GDB_GUARD_WRITE_RELEASE && d->record_ended) {
			/* The values as read: the condition (my epoch, me) means no one changed them. */
			struct aws_dynamodb_item *e = aws_dynamodb_item_set_m(&vals, ":ended");

			aws_dynamodb_item_set_s(e, "operation", gdb_guard_op_name(l->op));
			aws_dynamodb_item_set_s(e, "source", l->source ? l->source : "");
			aws_dynamodb_item_set_s(e, "target", l->target ? l->target : "");
			aws_dynamodb_item_set_s(e, "by", g->id);
			NAME("#end", "ended");
			update = "SET #v = #v + :one, #op = :none, #src = :none, #tgt = :none, "
				 "#end = :ended";
		}
		break;
	case GDB_GUARD_WRITE_COSIGN:
		NAME("#c", "cosign");
		NAME("#me", g->id);
		update = "SET #c.#me = :e";
		cond = "#e = :e";
		break;
	default:
		aws_dynamodb_item_release(&vals);
		return 0;
	}
#undef NAME
	n[nn] = NULL;
	c = (struct aws_dynamodb_cond){cond, n, &vals};
	rc = write_any(g, region, key, NULL, update, &c);
	aws_dynamodb_item_release(&vals);
	return rc;
}

/* Remembers when this process first saw the detach of epoch. */
static void saw_detach(struct guard_key *k, int64_t epoch)
{
	if (k->detach_epoch == epoch)
		return;
	k->detach_epoch = epoch;
	k->detach_seen_ms = base_now_real_ms() / 1000 * 1000;
}

/*
 * Records the operator's approval (round's approved_ms) for the running
 * detach, when it is newer than this process's first sight of that detach: an
 * approval counts once, for the detach it was given for. 1 when written.
 */
static int record_approval(struct gdb_guard *g, struct guard_key *k, int region,
			   const struct aws_dynamodb_item *key, struct gdb_guard_lease *l,
			   int64_t approved_ms)
{
	static const char *const names[] = {"#e", "epoch",    "#op", "operation",
					    "#a", "approval", NULL};
	struct aws_dynamodb_item vals = AWS_DYNAMODB_ITEM_INIT;
	struct aws_dynamodb_cond c = {"#e = :e AND #op = :det", names, &vals};
	int rc;

	if (l->op != GDB_GUARD_OP_DETACH)
		return 0;
	saw_detach(k, l->epoch);
	if (!approved_ms || approved_ms < k->detach_seen_ms || l->approval == l->epoch)
		return 0;
	aws_dynamodb_item_set_n(&vals, ":e", l->epoch);
	aws_dynamodb_item_set_s(&vals, ":det", gdb_guard_op_name(GDB_GUARD_OP_DETACH));
	rc = write_any(g, region, key, NULL, "SET #a = :e", &c);
	aws_dynamodb_item_release(&vals);
	if (rc != 0)
		return 0;
	l->approval = l->epoch;
	return 1;
}

/* ---- the round ---- */

/*
 * How long a value has been unchanged by this process's clock. A value seen
 * for the first time counts as just changed: a verdict of unknown age may
 * veto for one freshness bound, never corroborate (co-signatures are in the
 * lease, per epoch).
 */
static int64_t unchanged_for(int64_t *ver, int64_t *changed, int *seen, int64_t now,
			     int64_t version)
{
	if (!*seen || *ver != version) {
		*ver = version;
		*changed = now;
		*seen = 1;
	}
	return now - *changed;
}

static void read_peers(struct gdb_guard *g, struct guard_key *k, int region,
		       const struct lease_read *lr, struct gdb_guard_verdict *out, size_t *n,
		       struct aws_dynamodb_item *items)
{
	int64_t now = base_now_mono_ms();

	*n = 0;
	for (size_t i = 0; i < lr->n_peer_ids; i++) {
		struct aws_dynamodb_item key = AWS_DYNAMODB_ITEM_INIT;
		struct aws_dynamodb_item *it = &items[*n];
		struct peer_seen *p = NULL;
		struct aws_error err;
		char *pk;
		int found = 0, rc;

		if (strcmp(lr->peer_ids[i], g->id) == 0)
			continue;
		pk = xasprintf("verdict/%s/%s", k->key, lr->peer_ids[i]);
		aws_dynamodb_item_set_s(&key, "pk", pk);
		rc = aws_dynamodb_get_item(g->aws, g->regions[region], g->table, &key, 1, it,
					   &found, &err);
		count("GetItem", rc);
		aws_dynamodb_item_release(&key);
		free(pk);
		if (rc < 0 || !found) {
			aws_dynamodb_item_release(it);
			continue;
		}
		for (size_t j = 0; j < k->n_peers; j++)
			if (strcmp(k->peers[j].id, lr->peer_ids[i]) == 0)
				p = &k->peers[j];
		if (!p && k->n_peers < GDB_GUARD_MAX_PEERS) {
			p = &k->peers[k->n_peers++];
			p->id = xstrdup(lr->peer_ids[i]);
		}
		if (!p) {
			aws_dynamodb_item_release(it);
			continue;
		}
		out[*n] = (struct gdb_guard_verdict){
			.controller = lr->peer_ids[i],
			.region = lr->peer_regions[i],
			.seen = gdb_guard_seen_parse(aws_dynamodb_item_s(it, "seen")),
			.primary = aws_dynamodb_item_s(it, "primary"),
			.age_ms = unchanged_for(&p->version, &p->changed_mono, &p->seen, now,
						aws_dynamodb_item_n(it, "version", 0)),
		};
		(*n)++;
	}
}

static int is_wait_event(const char *reason)
{
	static const char *const list[] = {"HeldByPeer",
					   "TargetMismatch",
					   "AwaitingCorroboration",
					   "VetoedByPeer",
					   "LeaseTooShort",
					   "GuardUnavailable",
					   "LeaseLost",
					   NULL};

	for (size_t i = 0; list[i]; i++)
		if (reason && strcmp(reason, list[i]) == 0)
			return 1;
	return 0;
}

/* Fills the round's outputs from the decision and how its write went (rc). */
static void outcome(struct gdb_guard *g, struct guard_key *k, struct gdb_guard_round *r, int rc,
		    const struct gdb_guard_lease *l)
{
	const struct gdb_guard_decision *d = &r->decision;
	int wanted = r->intent.op != GDB_GUARD_OP_NONE, changed;
	int64_t epoch = d->write == GDB_GUARD_WRITE_ACQUIRE ||
					d->write == GDB_GUARD_WRITE_TAKEOVER ||
					d->write == GDB_GUARD_WRITE_CLEAR
				? d->epoch + 1
				: d->epoch;
	const char *what = gdb_guard_op_name(r->intent.op ? r->intent.op : r->lease_op);
	const char *to = r->intent.target ? r->intent.target : r->lease_target;

	r->held_back = wanted;
	if (d->write != GDB_GUARD_WRITE_NONE && rc == BASE_ECONFLICT) {
		r->reason = d->write == GDB_GUARD_WRITE_RENEW ? "LeaseLost" : "HeldByPeer";
		snprintf(r->message, sizeof(r->message),
			 "another controller changed the lease first (epoch %" PRId64
			 "): no call this round",
			 d->epoch);
	} else if (d->write != GDB_GUARD_WRITE_NONE && rc < 0) {
		r->reason = "GuardUnavailable";
		snprintf(r->message, sizeof(r->message),
			 "the guard table did not answer the %s write (%s): no call this round",
			 gdb_guard_write_name(d->write), base_strerror(rc));
	} else if (d->verb == GDB_GUARD_ACT) {
		r->allow = 1;
		r->held_back = 0;
		r->reason = "LeaseHeld";
		snprintf(r->message, sizeof(r->message),
			 "controller %s holds the lease, epoch %" PRId64 ", for %s to %s", g->id,
			 epoch, what, to);
	} else if (d->verb == GDB_GUARD_WAIT) {
		r->reason = gdb_guard_wait_reason(d->wait);
		snprintf(r->message, sizeof(r->message),
			 "%s to %s waits: %s%s%s (epoch %" PRId64 ")", what, to,
			 gdb_guard_wait_reason(d->wait), d->peer ? ", peer " : "",
			 d->peer ? d->peer : "", epoch);
		if (d->wait == GDB_GUARD_WAIT_AWAITING_CORROBORATION)
			snprintf(r->message, sizeof(r->message),
				 "the detach to %s waits for a co-signature of epoch %" PRId64
				 " by a controller in another region, or the operator's approval "
				 "(kubectl globaldb approve-failover)",
				 to, epoch);
	} else if (d->verb == GDB_GUARD_COSIGN) {
		r->reason = wanted ? "HeldByPeer" : "NoOperation";
		snprintf(r->message, sizeof(r->message),
			 "co-signed the detach of epoch %" PRId64 " held by %s", d->epoch,
			 l && l->holder ? l->holder : "?");
	} else if (d->verb == GDB_GUARD_ADOPT) {
		r->reason = "LeaseHeld";
		snprintf(r->message, sizeof(r->message),
			 "controller %s took over %s to %s, epoch %" PRId64, g->id, what, to,
			 epoch);
	} else if (d->verb == GDB_GUARD_DONE) {
		/* Nothing is held back: the calls were made, by the holder. */
		r->held_back = 0;
		r->reason = "DoneByPeer";
		snprintf(r->done_by, sizeof(r->done_by), "%s", d->peer ? d->peer : "");
		snprintf(r->message, sizeof(r->message),
			 "controller %s completed %s to %s: its AWS calls are not made again here",
			 r->done_by, what, to);
	} else if (d->verb == GDB_GUARD_RELEASE) {
		r->reason = "LeaseReleased";
		snprintf(r->message, sizeof(r->message), "the operation in the lease was cleared");
	} else {
		r->held_back = 0;
		r->reason = l ? "NoOperation" : "GuardUnavailable";
		snprintf(r->message, sizeof(r->message), "%s",
			 l ? "no operation needs the guard"
			   : "no replica region of the guard table answered");
	}

	/* Held by a peer right after holding it: this controller lost the lease. */
	if (r->held_back && strcmp(r->reason, "HeldByPeer") == 0 && k->last_reason &&
	    strcmp(k->last_reason, "LeaseHeld") == 0) {
		r->reason = "LeaseLost";
		snprintf(r->message, sizeof(r->message),
			 "controller %s lost the lease to %s (epoch %" PRId64 "): no call", g->id,
			 l && l->holder ? l->holder : "another controller", d->epoch);
	}
	/*
	 * Every change to a wait is an Event (it says why nothing happens); so are the
	 * writes that happen once per epoch, and a change to DoneByPeer.
	 */
	changed = !k->last_reason || strcmp(k->last_reason, r->reason) != 0;
	if (d->verb == GDB_GUARD_WAIT && is_wait_event(r->reason) && changed) {
		r->event_reason = r->reason;
		r->event_warning = 1;
		snprintf(r->event_message, sizeof(r->event_message), "%s", r->message);
	} else if (rc == 0 && d->write == GDB_GUARD_WRITE_ACQUIRE) {
		r->event_reason = "LeaseAcquired";
		snprintf(r->event_message, sizeof(r->event_message),
			 "controller %s acquired the lease, epoch %" PRId64 ", for %s to %s", g->id,
			 epoch, what, to);
	} else if (rc == 0 && d->write == GDB_GUARD_WRITE_TAKEOVER) {
		r->event_reason = "LeaseTakenOver";
		r->event_warning = 1;
		snprintf(r->event_message, sizeof(r->event_message),
			 "controller %s took over the expired lease of %s, epoch %" PRId64
			 ", continuing %s to %s",
			 g->id, l && l->holder ? l->holder : "?", epoch, what, to);
	} else if (d->verb == GDB_GUARD_DONE && changed) {
		r->event_reason = r->reason;
		snprintf(r->event_message, sizeof(r->event_message), "%s", r->message);
	} else if (rc == 0 && d->write == GDB_GUARD_WRITE_COSIGN) {
		r->event_reason = "CoSigned";
		snprintf(r->event_message, sizeof(r->event_message), "%s", r->message);
	} else if (rc == 0 &&
		   (d->write == GDB_GUARD_WRITE_RELEASE || d->write == GDB_GUARD_WRITE_CLEAR)) {
		r->event_reason = "LeaseReleased";
		snprintf(r->event_message, sizeof(r->event_message),
			 "controller %s cleared the operation in the lease (epoch %" PRId64 ")",
			 g->id, epoch);
	} else if (is_wait_event(r->reason) && changed) {
		r->event_reason = r->reason;
		r->event_warning = 1;
		snprintf(r->event_message, sizeof(r->event_message), "%s", r->message);
	}
	k->last_reason = r->reason;
	base_metric_add(m_decisions, 1, gdb_guard_verb_name(d->verb), r->reason);
}

int gdb_guard_run(struct gdb_guard *g, struct gdb_guard_round *r)
{
	struct guard_key *k = key_get(g, r->key);
	struct aws_dynamodb_item key = AWS_DYNAMODB_ITEM_INIT;
	struct aws_dynamodb_item peer_items[GDB_GUARD_MAX_PEERS];
	struct gdb_guard_verdict peers[GDB_GUARD_MAX_PEERS];
	struct lease_read lr;
	struct gdb_guard_input in = {0};
	char *pk = xasprintf("lease/%s", r->key);
	size_t np = 0;
	int region, rc = 0, approved = 0;

	memset(&lr, 0, sizeof(lr));
	memset(&r->decision, 0, sizeof(r->decision));
	r->allow = r->held_back = r->event_warning = 0;
	r->reason = r->event_reason = NULL;
	r->message[0] = r->event_message[0] = '\0';
	r->lease_op = GDB_GUARD_OP_NONE;
	r->lease_source[0] = r->lease_target[0] = r->done_by[0] = '\0';

	publish_verdict(g, k, r->mine, r->primary);
	aws_dynamodb_item_set_s(&key, "pk", pk);
	region = read_lease(g, &key, &lr);
	if (region >= 0) {
		int64_t now = base_now_mono_ms();

		register_me(g, region, &key, &lr);
		if (!k->lease_seen || k->epoch != lr.lease.epoch ||
		    k->version != lr.lease.version) {
			k->epoch = lr.lease.epoch;
			k->version = lr.lease.version;
			k->changed_mono = now;
			k->lease_seen = 1;
		}
		lr.lease.unchanged_ms = now - k->changed_mono;
		approved = record_approval(g, k, region, &key, &lr.lease, r->approved_ms);
		read_peers(g, k, region, &lr, peers, &np, peer_items);
		in.lease = &lr.lease;
	}
	in.me = g->id;
	in.my_region = g->region;
	in.peers = peers;
	in.n_peers = np;
	in.mine = r->mine;
	in.intent = r->intent;
	in.done = r->done;
	in.lease_ms = g->lease_ms;
	in.margin_ms = g->margin_ms;
	in.freshness_ms = r->freshness_ms;
	r->lease_op = in.lease ? lr.lease.op : GDB_GUARD_OP_NONE;
	snprintf(r->lease_source, sizeof(r->lease_source), "%s",
		 in.lease && lr.lease.source ? lr.lease.source : "");
	snprintf(r->lease_target, sizeof(r->lease_target), "%s",
		 in.lease && lr.lease.target ? lr.lease.target : "");
	gdb_guard_decide(&in, &r->decision);
	if (region >= 0 && r->decision.write != GDB_GUARD_WRITE_NONE)
		rc = decision_write(g, region, &key, &lr.lease, &r->intent, &r->decision);
	if (rc == 0 && r->intent.op == GDB_GUARD_OP_DETACH &&
	    (r->decision.write == GDB_GUARD_WRITE_ACQUIRE ||
	     r->decision.write == GDB_GUARD_WRITE_TAKEOVER))
		saw_detach(k, lr.lease.epoch + 1);
	outcome(g, k, r, rc, region >= 0 ? &lr.lease : NULL);
	if (approved && !r->event_reason) {
		r->event_reason = "DetachApproved";
		snprintf(r->event_message, sizeof(r->event_message),
			 "recorded the operator's approval (globaldb.io/approve-failover) of the "
			 "detach of epoch %" PRId64,
			 lr.lease.epoch);
	}
	if (r->decision.peer) /* it points into the items released below */
		r->decision.peer = NULL;
	for (size_t i = 0; i < np; i++)
		aws_dynamodb_item_release(&peer_items[i]);
	aws_dynamodb_item_release(&lr.item);
	aws_dynamodb_item_release(&key);
	free(pk);
	return 0;
}
