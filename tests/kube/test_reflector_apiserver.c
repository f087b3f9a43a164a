/*
 * pkg/kube/reflector and store against the real apiserver: the watch survives an
 * apiserver restart, a 410 after compaction relists without loss or duplicates, and a
 * stripped store drops managedFields.
 */
#include <check.h>
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <pthread.h>
#include <signal.h>
#include <spawn.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include "tests/check_main.h"
#include "tests/kube/kube_env.h"

struct tally {
	pthread_mutex_t mu;
	pthread_cond_t cond;
	json_t *by_key;
	const char *gate_name; /* on_add of this name blocks until released */
	int gate_blocked, gate_open;
};

static void tally_note(struct tally *t, json_t *o, const char *what)
{
	char *k = kube_object_key(o);
	json_t *cur;

	pthread_mutex_lock(&t->mu);
	cur = json_object_get(t->by_key, k);
	json_object_set_new(t->by_key, k,
			    json_sprintf("%s%s", cur ? json_string_value(cur) : "", what));
	pthread_cond_broadcast(&t->cond);
	pthread_mutex_unlock(&t->mu);
	free(k);
}

static void t_add(void *ud, json_t *o)
{
	struct tally *t = ud;
	const char *name =
		json_string_value(json_object_get(json_object_get(o, "metadata"), "name"));

	tally_note(t, o, "a");
	if (t->gate_name && name && !strcmp(name, t->gate_name)) {
		/* A slow consumer: the reflector thread stalls here. */
		pthread_mutex_lock(&t->mu);
		t->gate_blocked = 1;
		pthread_cond_broadcast(&t->cond);
		while (!t->gate_open)
			pthread_cond_wait(&t->cond, &t->mu);
		pthread_mutex_unlock(&t->mu);
	}
}

static void t_update(void *ud, json_t *o, json_t *n)
{
	(void)o;
	tally_note(ud, n, "u");
}

static void t_delete(void *ud, json_t *o)
{
	tally_note(ud, o, "d");
}

static void tally_init(struct tally *t)
{
	pthread_condattr_t ca;

	memset(t, 0, sizeof(*t));
	pthread_mutex_init(&t->mu, NULL);
	pthread_condattr_init(&ca);
	pthread_condattr_setclock(&ca, CLOCK_MONOTONIC);
	pthread_cond_init(&t->cond, &ca);
	t->by_key = json_object();
}

static char *tally_get(struct tally *t, const char *key)
{
	char *s;

	pthread_mutex_lock(&t->mu);
	s = json_string_value(json_object_get(t->by_key, key))
		    ? xstrdup(json_string_value(json_object_get(t->by_key, key)))
		    : xstrdup("");
	pthread_mutex_unlock(&t->mu);
	return s;
}

/* Polls until the store has (want=1) or lacks (want=0) key. */
static void await_key(struct kube_store *s, const char *key, int want, int64_t timeout_ms)
{
	int64_t deadline = base_now_mono_ms() + timeout_ms;

	for (;;) {
		json_t *o = kube_store_get(s, key);
		int have = o != NULL;

		json_decref(o);
		if (have == want)
			return;
		ck_assert_msg(base_now_mono_ms() < deadline, "store never %s %s",
			      want ? "got" : "dropped", key);
		base_sleep_ms(20);
	}
}

/* Create, retrying while the apiserver is still coming back. */
static void create_cm_retry(struct kube_client *c, const char *ns, const char *name)
{
	int64_t deadline = base_now_mono_ms() + 60000;
	struct kube_status st;
	json_t *o = configmap(ns, name, "k", "v");

	for (;;) {
		int rc = kube_create(c, &kube_res_configmaps, ns, o, NULL, &st);

		if (rc == 0 || rc == BASE_EEXIST)
			break;
		ck_assert_msg(base_now_mono_ms() < deadline, "create %s: %s", name, st.message);
		base_sleep_ms(200);
	}
	json_decref(o);
}

/*
 * Creates ConfigMap `listed`, starts a reflector into s, and once it has
 * synced creates `watched` and waits for the watch to bring it.
 */
static struct kube_reflector *start_listed_then_watched(struct kube_client *c, struct kube_store *s,
							const struct kube_reflector_opts *ro,
							const char *ns, const char *listed,
							const char *watched)
{
	struct kube_reflector *r;
	char *k;

	create_cm_retry(c, ns, listed);
	ck_assert_int_eq(kube_reflector_start(c, s, ro, &r), 0);
	ck_assert_int_eq(kube_reflector_wait_synced(r, 30000), 0);
	create_cm_retry(c, ns, watched);
	k = xasprintf("%s/%s", ns, watched);
	await_key(s, k, 1, 30000);
	free(k);
	return r;
}

/* The store must equal a fresh list of the namespace. */
static void assert_store_matches_server(struct kube_client *c, struct kube_store *s, const char *ns)
{
	struct kube_status st;
	json_t *all, *v;
	size_t i;

	ck_assert_int_eq(kube_list_all(c, &kube_res_configmaps, ns, NULL, &all, &st), 0);
	ck_assert_uint_eq(json_array_size(json_object_get(all, "items")), kube_store_len(s));
	json_array_foreach(json_object_get(all, "items"), i, v)
	{
		char *k = kube_object_key(v);
		json_t *mine = kube_store_get(s, k);

		ck_assert_msg(mine != NULL, "store lacks %s", k);
		ck_assert_str_eq(rv_of(mine), rv_of(v));
		json_decref(mine);
		free(k);
	}
	json_decref(all);
}

START_TEST(watch_survives_an_apiserver_restart)
{
	struct kube_client *c = admin();
	char *ns = fresh_namespace(c, "kube-restart"), *k, *log;
	struct kube_store *s = kube_store_new();
	struct tally t;
	struct kube_handlers h = {t_add, t_update, t_delete, &t};
	struct kube_reflector_opts ro = {.res = &kube_res_configmaps, .ns = ns};
	struct kube_reflector *r;
	struct kube_reflector_stats rs;

	tally_init(&t);
	kube_store_add_handlers(s, &h);
	r = start_listed_then_watched(c, s, &ro, ns, "before", "during");

	testenv("restart-apiserver");
	create_cm_retry(c, ns, "after");
	k = xasprintf("%s/after", ns);
	await_key(s, k, 1, 60000);
	free(k);
	kube_reflector_stats(r, &rs);
	ck_assert_uint_ge(rs.watches, 2);
	assert_store_matches_server(c, s, ns);
	/* Every object was announced exactly once: no loss, no duplicate adds. */
	for (int i = 0; i < 3; i++) {
		static const char *const names[] = {"before", "during", "after"};

		k = xasprintf("%s/%s", ns, names[i]);
		log = tally_get(&t, k);
		ck_assert_msg(!strcmp(log, "a"), "%s saw \"%s\"", k, log);
		free(log);
		free(k);
	}
	kube_reflector_free(r);
	kube_store_free(s);
	json_decref(t.by_key);
	free(ns);
	kube_client_free(c);
}
END_TEST

START_TEST(gone_after_compaction_relists_without_loss_or_duplicates)
{
	struct kube_client *c = admin();
	char *ns = fresh_namespace(c, "kube-gone"), *k, *log;
	struct kube_store *s = kube_store_new();
	struct tally t;
	struct kube_handlers h = {t_add, t_update, t_delete, &t};
	struct kube_reflector_opts ro = {.res = &kube_res_configmaps, .ns = ns};
	struct kube_reflector *r;
	struct kube_reflector_stats rs;
	struct kube_status st;
	struct kube_patch_opts merge = {KUBE_PATCH_MERGE, NULL, 0, NULL};
	json_t *patch;
	int64_t deadline;

	tally_init(&t);
	t.gate_name = "gate";
	kube_store_add_handlers(s, &h);
	create_cm_retry(c, ns, "keep");
	create_cm_retry(c, ns, "change");
	create_cm_retry(c, ns, "remove");
	ck_assert_int_eq(kube_reflector_start(c, s, &ro, &r), 0);
	ck_assert_int_eq(kube_reflector_wait_synced(r, 30000), 0);

	/* Stall the reflector inside a handler, so it misses what follows. */
	create_cm_retry(c, ns, "gate");
	pthread_mutex_lock(&t.mu);
	while (!t.gate_blocked)
		pthread_cond_wait(&t.cond, &t.mu);
	pthread_mutex_unlock(&t.mu);
	/* Its watch connection dies and the watch cache restarts past its RV... */
	testenv("restart-apiserver");
	/* ...the world changes while it is away... */
	patch = json_pack("{s:{s:s}}", "data", "k", "changed");
	for (deadline = base_now_mono_ms() + 60000;
	     kube_patch(c, &kube_res_configmaps, ns, "change", &merge, patch, NULL, &st) != 0;)
		ck_assert(base_now_mono_ms() < deadline);
	json_decref(patch);
	ck_assert_int_eq(kube_delete(c, &kube_res_configmaps, ns, "remove", NULL, &st), 0);
	create_cm_retry(c, ns, "new");
	/* ...and etcd forgets the history. */
	testenv("compact");
	pthread_mutex_lock(&t.mu);
	t.gate_open = 1;
	pthread_cond_broadcast(&t.cond);
	pthread_mutex_unlock(&t.mu);

	k = xasprintf("%s/new", ns);
	await_key(s, k, 1, 60000);
	free(k);
	k = xasprintf("%s/remove", ns);
	await_key(s, k, 0, 60000);
	free(k);
	kube_reflector_stats(r, &rs);
	ck_assert_uint_ge(rs.gone, 1);
	ck_assert_uint_ge(rs.lists, 2);
	assert_store_matches_server(c, s, ns);
	{
		static const char *const names[] = {"keep", "change", "remove", "gate", "new"};
		static const char *const want[] = {"a", "au", "ad", "a", "a"};

		for (int i = 0; i < 5; i++) {
			k = xasprintf("%s/%s", ns, names[i]);
			log = tally_get(&t, k);
			ck_assert_msg(!strcmp(log, want[i]), "%s saw \"%s\", want \"%s\"", k, log,
				      want[i]);
			free(log);
			free(k);
		}
	}
	kube_reflector_free(r);
	kube_store_free(s);
	json_decref(t.by_key);
	free(ns);
	kube_client_free(c);
}
END_TEST

/*
 * A store that strips managedFields and the last-applied annotation (what the
 * controller runs with) holds objects without them, from the list and from
 * the watch, with their other annotations; an update made from such a copy
 * keeps the server's managed fields.
 */
START_TEST(stripped_store_drops_managed_fields_and_updates_keep_the_servers)
{
	struct kube_client *c = admin();
	char *ns = fresh_namespace(c, "kube-strip"), *k;
	struct kube_store *s = kube_store_new();
	struct kube_reflector_opts ro = {.res = &kube_res_configmaps,
					 .ns = ns,
					 .strip_managed_fields = 1,
					 .strip_last_applied = 1};
	struct kube_reflector *r;
	struct kube_status st;
	json_t *o, *ann, *server = NULL;

	r = start_listed_then_watched(c, s, &ro, ns, "listed", "watched");
	for (int i = 0; i < 2; i++) {
		k = xasprintf("%s/%s", ns, i ? "watched" : "listed");
		o = kube_store_get(s, k);
		ck_assert_ptr_nonnull(o);
		ck_assert_ptr_null(
			json_object_get(json_object_get(o, "metadata"), "managedFields"));
		ann = json_object_get(json_object_get(o, "metadata"), "annotations");
		ck_assert_ptr_null(json_object_get(ann, KUBE_LAST_APPLIED_ANNOTATION));
		ck_assert_str_eq(json_string_value(json_object_get(ann, "example.com/kept")),
				 "yes");
		ck_assert_str_eq(
			json_string_value(json_object_get(json_object_get(o, "data"), "k")), "v");
		free(k);
		if (i == 0) {
			json_object_set_new(json_object_get(o, "data"), "k",
					    json_string("updated"));
			ck_assert_int_eq(kube_update(c, &kube_res_configmaps, ns, "listed", NULL, o,
						     &server, &st),
					 0);
		}
		json_decref(o);
	}
	ck_assert_str_eq(json_string_value(json_object_get(json_object_get(server, "data"), "k")),
			 "updated");
	ck_assert_int_gt(json_array_size(json_object_get(json_object_get(server, "metadata"),
							 "managedFields")),
			 0);
	json_decref(server);
	kube_reflector_free(r);
	kube_store_free(s);
	free(ns);
	kube_client_free(c);
}
END_TEST

GDB_CHECK_MAIN_FIXTURE("kube_reflector_apiserver", 180, load_state, NULL,
		       watch_survives_an_apiserver_restart,
		       gone_after_compaction_relists_without_loss_or_duplicates,
		       stripped_store_drops_managed_fields_and_updates_keep_the_servers)
