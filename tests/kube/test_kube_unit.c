/*
 * Unit tests for pkg/kube without a server: kubeconfig and in-cluster
 * loading, Status decoding, watch framing, the store's relist diff, the
 * workqueue's semantics and rate limits, and conditions.
 */
#include <check.h>
#include <curl/curl.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "pkg/base/alloc.h"
#include "pkg/base/err.h"
#include "pkg/base/metrics.h"
#include "pkg/base/timeutil.h"
#include "pkg/kube/kube.h"

static char tmpdir[256];

static void make_tmpdir(void)
{
	snprintf(tmpdir, sizeof(tmpdir), "/tmp/kube-unit-XXXXXX");
	ck_assert_ptr_nonnull(mkdtemp(tmpdir));
}

static char *write_file(const char *name, const char *content, int mode)
{
	char *path = xasprintf("%s/%s", tmpdir, name);
	FILE *f = fopen(path, "w");

	ck_assert_ptr_nonnull(f);
	fputs(content, f);
	fclose(f);
	chmod(path, (mode_t)mode);
	return path;
}

/* The Authorization header kube_config_apply produces ("" if none). Caller frees. */
static char *auth_header(struct kube_config *cfg)
{
	struct curl_slist *h = NULL, *it;
	CURL *c = curl_easy_init();
	char *msg = NULL, *out = xstrdup("");

	ck_assert_int_eq(kube_config_apply(cfg, c, &h, &msg), 0);
	for (it = h; it; it = it->next) {
		if (!strncmp(it->data, "Authorization: ", 15)) {
			free(out);
			out = xstrdup(it->data + 15);
		}
	}
	curl_slist_free_all(h);
	curl_easy_cleanup(c);
	return out;
}

static const char kubeconfig_two_contexts[] =
	"apiVersion: v1\n"
	"kind: Config\n"
	"current-context: dev\n"
	"clusters:\n"
	"- name: dev-cluster\n"
	"  cluster:\n"
	"    server: https://127.0.0.1:6443/\n"
	"    certificate-authority-data: LS0tLS1CRUdJTiBDRVJUSUZJQ0FURS0tLS0tCg==\n"
	"- name: prod-cluster\n"
	"  cluster:\n"
	"    server: https://127.0.0.2:443\n"
	"    insecure-skip-tls-verify: true\n"
	"contexts:\n"
	"- name: dev\n"
	"  context: {cluster: dev-cluster, user: alice, namespace: team-a}\n"
	"- name: prod\n"
	"  context: {cluster: prod-cluster, user: bob}\n"
	"users:\n"
	"- name: alice\n"
	"  user: {token: alice-token}\n"
	"- name: bob\n"
	"  user: {token: bob-token}\n";

START_TEST(kubeconfig_current_context_resolves_server_namespace_and_token)
{
	struct kube_config *cfg;
	char *msg = NULL, *path, *auth;

	make_tmpdir();
	path = write_file("config", kubeconfig_two_contexts, 0600);
	ck_assert_int_eq(kube_config_load_kubeconfig(path, NULL, &cfg, &msg), 0);
	ck_assert_str_eq(kube_config_server(cfg), "https://127.0.0.1:6443");
	ck_assert_str_eq(kube_config_namespace(cfg), "team-a");
	ck_assert_ptr_null(kube_config_warning(cfg));
	auth = auth_header(cfg);
	ck_assert_str_eq(auth, "Bearer alice-token");
	free(auth);
	kube_config_free(cfg);
	free(path);
}
END_TEST

START_TEST(kubeconfig_explicit_context_and_insecure_flag_warns)
{
	struct kube_config *cfg;
	char *msg = NULL, *path, *auth;

	make_tmpdir();
	path = write_file("config", kubeconfig_two_contexts, 0600);
	ck_assert_int_eq(kube_config_load_kubeconfig(path, "prod", &cfg, &msg), 0);
	ck_assert_str_eq(kube_config_server(cfg), "https://127.0.0.2:443");
	ck_assert_ptr_nonnull(kube_config_warning(cfg));
	ck_assert_ptr_nonnull(strstr(kube_config_warning(cfg), "insecure-skip-tls-verify"));
	auth = auth_header(cfg);
	ck_assert_str_eq(auth, "Bearer bob-token");
	free(auth);
	kube_config_free(cfg);
	ck_assert_int_eq(kube_config_load_kubeconfig(path, "staging", &cfg, &msg), BASE_EINVAL);
	ck_assert_ptr_nonnull(strstr(msg, path));
	ck_assert_ptr_nonnull(strstr(msg, "staging"));
	free(msg);
	free(path);
}
END_TEST

START_TEST(kubeconfig_errors_name_the_file_and_the_field)
{
	struct kube_config *cfg = NULL;
	char *msg = NULL, *path;

	make_tmpdir();
	path = write_file("missing-server",
			  "current-context: c\n"
			  "contexts: [{name: c, context: {cluster: k, user: u}}]\n"
			  "clusters: [{name: k, cluster: {certificate-authority: ca.pem}}]\n"
			  "users: [{name: u, user: {}}]\n",
			  0600);
	ck_assert_int_eq(kube_config_load_kubeconfig(path, NULL, &cfg, &msg), BASE_EINVAL);
	ck_assert_ptr_null(cfg);
	ck_assert_ptr_nonnull(strstr(msg, path));
	ck_assert_ptr_nonnull(strstr(msg, "clusters[k].cluster.server"));
	free(msg);
	free(path);

	path = write_file("missing-ca",
			  "current-context: c\n"
			  "contexts: [{name: c, context: {cluster: k, user: u}}]\n"
			  "clusters: [{name: k, cluster: {server: 'https://x:1', "
			  "certificate-authority: nope/ca.pem}}]\n"
			  "users: [{name: u, user: {}}]\n",
			  0600);
	ck_assert_int_eq(kube_config_load_kubeconfig(path, NULL, &cfg, &msg), BASE_EIO);
	ck_assert_ptr_nonnull(strstr(msg, "certificate-authority"));
	ck_assert_ptr_nonnull(strstr(msg, "nope/ca.pem"));
	free(msg);
	free(path);

	path = write_file("bad-yaml", "clusters: [\n  - {name: x\n", 0600);
	ck_assert_int_eq(kube_config_load_kubeconfig(path, NULL, &cfg, &msg), BASE_EPARSE);
	ck_assert_ptr_nonnull(strstr(msg, path));
	ck_assert_ptr_nonnull(strstr(msg, "line"));
	free(msg);
	free(path);

	path = xasprintf("%s/does-not-exist", tmpdir);
	ck_assert_int_eq(kube_config_load_kubeconfig(path, NULL, &cfg, &msg), BASE_EIO);
	ck_assert_ptr_nonnull(strstr(msg, "does-not-exist"));
	free(msg);
	free(path);

	path = write_file("bad-b64",
			  "current-context: c\n"
			  "contexts: [{name: c, context: {cluster: k, user: u}}]\n"
			  "clusters: [{name: k, cluster: {server: 'https://x:1'}}]\n"
			  "users: [{name: u, user: {client-certificate-data: '!!!', "
			  "client-key-data: 'QQ=='}}]\n",
			  0600);
	ck_assert_int_eq(kube_config_load_kubeconfig(path, NULL, &cfg, &msg), BASE_EINVAL);
	ck_assert_ptr_nonnull(strstr(msg, "users[u].user.client-certificate-data"));
	free(msg);
	free(path);
}
END_TEST

START_TEST(token_file_is_cached_and_reread_after_invalidate)
{
	struct kube_config *cfg;
	char *msg = NULL, *path, *tok, *auth;

	make_tmpdir();
	tok = write_file("token", "first-token\n", 0600);
	path = write_file("config",
			  "current-context: c\n"
			  "contexts: [{name: c, context: {cluster: k, user: u}}]\n"
			  "clusters: [{name: k, cluster: {server: 'https://x:1'}}]\n"
			  "users: [{name: u, user: {tokenFile: token}}]\n",
			  0600);
	ck_assert_int_eq(kube_config_load_kubeconfig(path, NULL, &cfg, &msg), 0);
	auth = auth_header(cfg);
	ck_assert_str_eq(auth, "Bearer first-token");
	free(auth);
	free(write_file("token", "second-token\n", 0600));
	/* Within the refresh period the cached token is used. */
	auth = auth_header(cfg);
	ck_assert_str_eq(auth, "Bearer first-token");
	free(auth);
	/* A 401 invalidates: the file is read again. */
	kube_config_invalidate(cfg);
	auth = auth_header(cfg);
	ck_assert_str_eq(auth, "Bearer second-token");
	free(auth);
	kube_config_free(cfg);
	free(path);
	free(tok);
}
END_TEST

START_TEST(exec_plugin_runs_with_its_env_and_honours_expiry)
{
	struct kube_config *cfg;
	char *msg = NULL, *path, *script, *auth, *cfgtext, counter[300], line[8];
	FILE *f;
	int runs = 0;

	make_tmpdir();
	snprintf(counter, sizeof(counter), "%s/runs", tmpdir);
	/* The plugin prints a token from its env; expiry comes from its argument. */
	script = write_file("plugin.sh",
			    "#!/bin/sh\n"
			    "echo run >> \"$COUNTER\"\n"
			    "printf '{\"apiVersion\":\"client.authentication.k8s.io/v1\","
			    "\"kind\":\"ExecCredential\",\"status\":{\"token\":\"%s\","
			    "\"expirationTimestamp\":\"%s\"}}' \"$PLUGIN_TOKEN\" \"$1\"\n",
			    0700);
	cfgtext = xasprintf("current-context: c\n"
			    "contexts: [{name: c, context: {cluster: k, user: u}}]\n"
			    "clusters: [{name: k, cluster: {server: 'https://x:1'}}]\n"
			    "users:\n"
			    "- name: u\n"
			    "  user:\n"
			    "    exec:\n"
			    "      apiVersion: client.authentication.k8s.io/v1\n"
			    "      command: %s\n"
			    "      args: ['2099-01-01T00:00:00Z']\n"
			    "      env: [{name: PLUGIN_TOKEN, value: from-plugin}, "
			    "{name: COUNTER, value: '%s'}]\n"
			    "      interactiveMode: Never\n"
			    "- name: expired\n"
			    "  user:\n"
			    "    exec:\n"
			    "      apiVersion: client.authentication.k8s.io/v1\n"
			    "      command: %s\n"
			    "      args: ['2000-01-01T00:00:00Z']\n"
			    "      env: [{name: PLUGIN_TOKEN, value: old}, "
			    "{name: COUNTER, value: '%s'}]\n"
			    "contexts-extra: ignored\n",
			    script, counter, script, counter);
	path = write_file("config", cfgtext, 0600);
	ck_assert_int_eq(kube_config_load_kubeconfig(path, NULL, &cfg, &msg), 0);
	auth = auth_header(cfg);
	ck_assert_str_eq(auth, "Bearer from-plugin");
	free(auth);
	auth = auth_header(cfg);
	ck_assert_str_eq(auth, "Bearer from-plugin");
	free(auth);
	ck_assert_ptr_null(getenv("PLUGIN_TOKEN")); /* the process env is untouched */
	kube_config_free(cfg);
	f = fopen(counter, "r");
	ck_assert_ptr_nonnull(f);
	while (fgets(line, sizeof(line), f))
		runs++;
	fclose(f);
	ck_assert_int_eq(runs, 1); /* cached until expiry */
	free(cfgtext);
	free(path);
	free(script);
}
END_TEST

START_TEST(exec_plugin_with_expired_credential_reruns_each_time)
{
	struct kube_config *cfg;
	char *msg = NULL, *path, *script, *cfgtext, counter[300], line[8];
	FILE *f;
	int runs = 0;

	make_tmpdir();
	snprintf(counter, sizeof(counter), "%s/runs", tmpdir);
	script = write_file("plugin.sh",
			    "#!/bin/sh\n"
			    "echo run >> \"$COUNTER\"\n"
			    "printf '{\"apiVersion\":\"client.authentication.k8s.io/v1\","
			    "\"kind\":\"ExecCredential\",\"status\":{\"token\":\"t\","
			    "\"expirationTimestamp\":\"2000-01-01T00:00:00Z\"}}'\n",
			    0700);
	cfgtext = xasprintf("current-context: c\n"
			    "contexts: [{name: c, context: {cluster: k, user: u}}]\n"
			    "clusters: [{name: k, cluster: {server: 'https://x:1'}}]\n"
			    "users: [{name: u, user: {exec: {apiVersion: "
			    "client.authentication.k8s.io/v1, command: %s, env: [{name: COUNTER, "
			    "value: '%s'}]}}}]\n",
			    script, counter);
	path = write_file("config", cfgtext, 0600);
	ck_assert_int_eq(kube_config_load_kubeconfig(path, NULL, &cfg, &msg), 0);
	free(auth_header(cfg));
	free(auth_header(cfg));
	kube_config_free(cfg);
	f = fopen(counter, "r");
	ck_assert_ptr_nonnull(f);
	while (fgets(line, sizeof(line), f))
		runs++;
	fclose(f);
	ck_assert_int_eq(runs, 2);
	free(cfgtext);
	free(path);
	free(script);
}
END_TEST

START_TEST(exec_plugin_bad_output_is_an_error)
{
	struct kube_config *cfg;
	struct curl_slist *h = NULL;
	CURL *c = curl_easy_init();
	char *msg = NULL, *path, *script, *cfgtext;

	make_tmpdir();
	script = write_file("plugin.sh", "#!/bin/sh\necho not-json\n", 0700);
	cfgtext = xasprintf("current-context: c\n"
			    "contexts: [{name: c, context: {cluster: k, user: u}}]\n"
			    "clusters: [{name: k, cluster: {server: 'https://x:1'}}]\n"
			    "users: [{name: u, user: {exec: {apiVersion: "
			    "client.authentication.k8s.io/v1, command: %s}}}]\n",
			    script);
	path = write_file("config", cfgtext, 0600);
	ck_assert_int_eq(kube_config_load_kubeconfig(path, NULL, &cfg, &msg), 0);
	ck_assert_int_eq(kube_config_apply(cfg, c, &h, &msg), BASE_EPARSE);
	ck_assert_ptr_nonnull(strstr(msg, "ExecCredential"));
	free(msg);
	curl_slist_free_all(h);
	curl_easy_cleanup(c);
	kube_config_free(cfg);
	free(cfgtext);
	free(path);
	free(script);
}
END_TEST

START_TEST(incluster_config_reads_env_and_service_account_files)
{
	struct kube_config *cfg;
	char *msg = NULL, *auth;

	make_tmpdir();
	free(write_file("ca.crt", "-----BEGIN CERTIFICATE-----\n", 0600));
	free(write_file("token", "sa-token\n", 0600));
	free(write_file("namespace", "globaldb-system", 0600));
	unsetenv("KUBERNETES_SERVICE_HOST");
	ck_assert_int_eq(kube_config_load_incluster(tmpdir, &cfg, &msg), BASE_EINVAL);
	free(msg);
	setenv("KUBERNETES_SERVICE_HOST", "fd00::1", 1);
	setenv("KUBERNETES_SERVICE_PORT", "443", 1);
	ck_assert_int_eq(kube_config_load_incluster(tmpdir, &cfg, &msg), 0);
	ck_assert_str_eq(kube_config_server(cfg), "https://[fd00::1]:443");
	ck_assert_str_eq(kube_config_namespace(cfg), "globaldb-system");
	auth = auth_header(cfg);
	ck_assert_str_eq(auth, "Bearer sa-token");
	free(auth);
	kube_config_free(cfg);
}
END_TEST

START_TEST(yaml_alias_bomb_is_refused)
{
	const char *bomb = "a: &a [x, x, x, x, x, x, x, x, x, x]\n"
			   "b: &b [*a, *a, *a, *a, *a, *a, *a, *a, *a, *a]\n"
			   "c: &c [*b, *b, *b, *b, *b, *b, *b, *b, *b, *b]\n"
			   "d: &d [*c, *c, *c, *c, *c, *c, *c, *c, *c, *c]\n"
			   "e: &e [*d, *d, *d, *d, *d, *d, *d, *d, *d, *d]\n"
			   "f: &f [*e, *e, *e, *e, *e, *e, *e, *e, *e, *e]\n";
	json_t *out;
	char *msg = NULL;

	ck_assert_int_eq(kube_yaml_to_json(bomb, strlen(bomb), &out, &msg), BASE_ETOOBIG);
	ck_assert_ptr_null(out);
	free(msg);
}
END_TEST

START_TEST(status_bodies_map_to_error_codes)
{
	struct kube_status st = {0};
	const char *conflict =
		"{\"kind\":\"Status\",\"apiVersion\":\"v1\",\"status\":\"Failure\","
		"\"message\":\"the object has been modified\",\"reason\":\"Conflict\","
		"\"code\":409}";
	const char *exists = "{\"kind\":\"Status\",\"reason\":\"AlreadyExists\",\"code\":409}";
	const char *throttled = "{\"kind\":\"Status\",\"reason\":\"TooManyRequests\",\"code\":429,"
				"\"details\":{\"retryAfterSeconds\":7}}";

	ck_assert_int_eq(kube_status_decode(409, conflict, strlen(conflict), &st), BASE_ECONFLICT);
	ck_assert_str_eq(st.reason, "Conflict");
	ck_assert_str_eq(st.message, "the object has been modified");
	ck_assert_int_eq(st.code, 409);
	ck_assert_int_eq(kube_status_decode(409, exists, strlen(exists), &st), BASE_EEXIST);
	ck_assert_int_eq(kube_status_decode(429, throttled, strlen(throttled), &st),
			 BASE_ETHROTTLED);
	ck_assert_int_eq(st.retry_after_s, 7);
	ck_assert_int_eq(kube_status_decode(410, "", 0, &st), BASE_EGONE);
	ck_assert_int_eq(kube_status_decode(404, NULL, 0, &st), BASE_ENOTFOUND);
	ck_assert_int_eq(kube_status_decode(422, "{}", 2, &st), BASE_EINVAL);
	ck_assert_int_eq(kube_status_decode(400, "{}", 2, &st), BASE_EINVAL);
	ck_assert_int_eq(kube_status_decode(401, "{}", 2, &st), BASE_EUNAUTHORIZED);
	ck_assert_int_eq(kube_status_decode(403, "{}", 2, &st), BASE_EFORBIDDEN);
	ck_assert_int_eq(kube_status_decode(503, "upstream\nfailed", 15, &st), BASE_ESERVER);
	ck_assert_str_eq(st.message, "upstream?failed");
	ck_assert_int_eq(kube_status_decode(504, NULL, 0, NULL), BASE_ETIMEDOUT);
}
END_TEST

struct collected {
	json_t *events; /* [[type, name], ...] */
	int stop_after;
};

static int collect(void *ud, enum kube_event_type type, json_t *obj)
{
	struct collected *c = ud;

	json_array_append_new(c->events,
			      json_pack("[sO?]", kube_event_type_name(type),
					json_object_get(json_object_get(obj, "metadata"), "name")));
	if (c->stop_after && (int)json_array_size(c->events) >= c->stop_after)
		return BASE_ECANCELED;
	return 0;
}

static const char two_events[] =
	"{\"type\":\"ADDED\",\"object\":{\"metadata\":{\"name\":\"a\",\"resourceVersion\":\"1\"}}}"
	"\n"
	"{\"type\":\"BOOKMARK\",\"object\":{\"metadata\":{\"resourceVersion\":\"5\"}}}\r\n"
	"\n"
	"{\"type\":\"DELETED\",\"object\":{\"metadata\":{\"name\":\"b\",\"resourceVersion\":\"6\"}}"
	"}\n";

START_TEST(watch_events_split_at_every_byte_are_delivered_once)
{
	size_t n = strlen(two_events);

	for (size_t cut = 0; cut <= n; cut++) {
		struct collected c = {json_array(), 0};
		struct kube_watch_decoder d;

		kube_watch_decoder_init(&d, 0, collect, &c, NULL);
		ck_assert_int_eq(kube_watch_decoder_feed(&d, two_events, cut), 0);
		ck_assert_int_eq(kube_watch_decoder_feed(&d, two_events + cut, n - cut), 0);
		ck_assert_int_eq(kube_watch_decoder_finish(&d), 0);
		ck_assert_int_eq(json_array_size(c.events), 3);
		ck_assert_str_eq(json_string_value(json_array_get(json_array_get(c.events, 0), 0)),
				 "ADDED");
		ck_assert_str_eq(json_string_value(json_array_get(json_array_get(c.events, 1), 0)),
				 "BOOKMARK");
		ck_assert_str_eq(json_string_value(json_array_get(json_array_get(c.events, 2), 1)),
				 "b");
		kube_watch_decoder_release(&d);
		json_decref(c.events);
	}
	/* One byte at a time. */
	{
		struct collected c = {json_array(), 0};
		struct kube_watch_decoder d;

		kube_watch_decoder_init(&d, 0, collect, &c, NULL);
		for (size_t i = 0; i < n; i++)
			ck_assert_int_eq(kube_watch_decoder_feed(&d, two_events + i, 1), 0);
		ck_assert_int_eq(kube_watch_decoder_finish(&d), 0);
		ck_assert_int_eq(json_array_size(c.events), 3);
		kube_watch_decoder_release(&d);
		json_decref(c.events);
	}
}
END_TEST

START_TEST(watch_line_over_the_cap_fails_without_growing)
{
	struct collected c = {json_array(), 0};
	struct kube_watch_decoder d;
	char big[300];

	memset(big, 'x', sizeof(big));
	kube_watch_decoder_init(&d, 256, collect, &c, NULL);
	ck_assert_int_eq(kube_watch_decoder_feed(&d, two_events, 20), 0);
	ck_assert_int_eq(kube_watch_decoder_feed(&d, big, sizeof(big)), BASE_ETOOBIG);
	ck_assert_uint_le(d.line.len, 256);
	ck_assert_int_eq(kube_watch_decoder_feed(&d, "\n", 1), BASE_ETOOBIG); /* sticky */
	kube_watch_decoder_release(&d);
	json_decref(c.events);
}
END_TEST

START_TEST(watch_truncated_mid_event_and_error_events_end_the_stream)
{
	struct collected c = {json_array(), 0};
	struct kube_watch_decoder d;
	struct kube_status st;
	const char *gone =
		"{\"type\":\"ERROR\",\"object\":{\"kind\":\"Status\",\"apiVersion\":\"v1\","
		"\"status\":\"Failure\",\"message\":\"too old resource version: 5 (9)\","
		"\"reason\":\"Expired\",\"code\":410}}\n";

	kube_watch_decoder_init(&d, 0, collect, &c, &st);
	ck_assert_int_eq(kube_watch_decoder_feed(&d, two_events, 30), 0);
	ck_assert_int_eq(kube_watch_decoder_finish(&d), BASE_ETRANSPORT);
	kube_watch_decoder_release(&d);

	kube_watch_decoder_init(&d, 0, collect, &c, &st);
	ck_assert_int_eq(kube_watch_decoder_feed(&d, gone, strlen(gone)), BASE_EGONE);
	ck_assert_int_eq(st.code, 410);
	ck_assert_str_eq(st.reason, "Expired");
	kube_watch_decoder_release(&d);

	kube_watch_decoder_init(&d, 0, collect, &c, &st);
	ck_assert_int_eq(kube_watch_decoder_feed(&d, "{\"type\":\"ADDED\"}\n", 17), BASE_EPARSE);
	kube_watch_decoder_release(&d);
	ck_assert_int_eq(json_array_size(c.events), 0);
	json_decref(c.events);
}
END_TEST

static json_t *obj(const char *ns, const char *name, const char *rv)
{
	return json_pack("{s:{s:s, s:s, s:s}}", "metadata", "namespace", ns, "name", name,
			 "resourceVersion", rv);
}

struct log {
	json_t *lines; /* "add ns/a 1", "update ns/a 1->2", "delete ns/a" */
};

static void log_add(void *ud, json_t *o)
{
	char *k = kube_object_key(o);

	json_array_append_new(((struct log *)ud)->lines, json_sprintf("add %s", k));
	free(k);
}

static void log_update(void *ud, json_t *old_obj, json_t *new_obj)
{
	char *k = kube_object_key(new_obj);

	json_array_append_new(
		((struct log *)ud)->lines,
		json_sprintf("update %s %s->%s", k,
			     json_string_value(json_object_get(json_object_get(old_obj, "metadata"),
							       "resourceVersion")),
			     json_string_value(json_object_get(json_object_get(new_obj, "metadata"),
							       "resourceVersion"))));
	free(k);
}

static void log_delete(void *ud, json_t *o)
{
	char *k = kube_object_key(o);

	json_array_append_new(((struct log *)ud)->lines, json_sprintf("delete %s", k));
	free(k);
}

static int has_line(json_t *lines, const char *s)
{
	size_t i;
	json_t *v;

	json_array_foreach(lines, i, v)
	{
		if (!strcmp(json_string_value(v), s))
			return 1;
	}
	return 0;
}

START_TEST(store_relist_reports_exactly_the_differences)
{
	struct kube_store *s = kube_store_new();
	struct log l = {json_array()};
	struct kube_handlers h = {log_add, log_update, log_delete, &l};
	json_t *items = json_array(), *got;

	kube_store_add_handlers(s, &h);
	json_array_append_new(items, obj("ns", "a", "1"));
	json_array_append_new(items, obj("ns", "b", "1"));
	json_array_append_new(items, obj("ns", "c", "1"));
	ck_assert_int_eq(kube_store_replace(s, items), 0);
	ck_assert_int_eq(json_array_size(l.lines), 3);
	json_array_clear(l.lines);
	json_decref(items);

	/* Relist: a unchanged, b modified, c deleted, d new. */
	items = json_array();
	json_array_append_new(items, obj("ns", "a", "1"));
	json_array_append_new(items, obj("ns", "b", "7"));
	json_array_append_new(items, obj("ns", "d", "8"));
	ck_assert_int_eq(kube_store_replace(s, items), 0);
	ck_assert_int_eq(json_array_size(l.lines), 3);
	ck_assert(has_line(l.lines, "update ns/b 1->7"));
	ck_assert(has_line(l.lines, "delete ns/c"));
	ck_assert(has_line(l.lines, "add ns/d"));
	ck_assert_uint_eq(kube_store_len(s), 3);
	got = kube_store_get(s, "ns/b");
	ck_assert_str_eq(json_string_value(json_object_get(json_object_get(got, "metadata"),
							   "resourceVersion")),
			 "7");
	json_decref(got);
	ck_assert_ptr_null(kube_store_get(s, "ns/c"));
	json_decref(items);

	/* Watch events. */
	json_array_clear(l.lines);
	items = obj("ns", "e", "9");
	ck_assert_int_eq(kube_store_apply(s, KUBE_EVENT_MODIFIED, items), 0); /* unknown -> add */
	json_decref(items);
	items = obj("ns", "a", "10");
	ck_assert_int_eq(kube_store_apply(s, KUBE_EVENT_ADDED, items), 0); /* known -> update */
	ck_assert_int_eq(kube_store_apply(s, KUBE_EVENT_DELETED, items), 0);
	ck_assert_int_eq(kube_store_apply(s, KUBE_EVENT_DELETED, items), 0); /* again: nothing */
	json_decref(items);
	ck_assert_int_eq(json_array_size(l.lines), 3);
	ck_assert(has_line(l.lines, "add ns/e"));
	ck_assert(has_line(l.lines, "update ns/a 1->10"));
	ck_assert(has_line(l.lines, "delete ns/a"));
	items = json_pack("{s:{}}", "metadata");
	ck_assert_int_eq(kube_store_apply(s, KUBE_EVENT_ADDED, items), BASE_EINVAL);
	json_decref(items);
	kube_store_free(s);
	json_decref(l.lines);
}
END_TEST

static struct kube_workqueue *wq(const char *name)
{
	struct kube_workqueue_opts o = {.name = name};

	return kube_workqueue_new(&o);
}

START_TEST(workqueue_collapses_bursts_and_never_hands_a_key_to_two_workers)
{
	struct kube_workqueue *q = wq("unit-burst");
	char *k1, *k2;

	for (int i = 0; i < 5; i++)
		kube_workqueue_add(q, "ns/a");
	kube_workqueue_add(q, "ns/b");
	ck_assert_uint_eq(kube_workqueue_len(q), 2);
	ck_assert_int_eq(kube_workqueue_get(q, 0, &k1), 0);
	ck_assert_str_eq(k1, "ns/a");
	/* Added again while processing: not handed out until done. */
	kube_workqueue_add(q, "ns/a");
	ck_assert_int_eq(kube_workqueue_get(q, 0, &k2), 0);
	ck_assert_str_eq(k2, "ns/b");
	kube_workqueue_done(q, k2);
	free(k2);
	ck_assert_int_eq(kube_workqueue_get(q, 50, &k2), BASE_ETIMEDOUT);
	kube_workqueue_done(q, k1);
	free(k1);
	ck_assert_int_eq(kube_workqueue_get(q, 0, &k1), 0);
	ck_assert_str_eq(k1, "ns/a");
	kube_workqueue_done(q, k1);
	free(k1);
	ck_assert_double_eq(
		base_metric_value(base_metric_counter("workqueue_adds_total",
						      "Total number of adds handled by workqueue",
						      "name"),
				  "unit-burst"),
		3);
	kube_workqueue_shutdown(q);
	ck_assert_int_eq(kube_workqueue_get(q, -1, &k1), BASE_ECANCELED);
	kube_workqueue_free(q);
}
END_TEST

START_TEST(workqueue_add_after_waits_and_keeps_the_earliest)
{
	struct kube_workqueue *q = wq("unit-after");
	int64_t start = base_now_mono_ms();
	char *k;

	kube_workqueue_add_after(q, "x", 5000);
	kube_workqueue_add_after(q, "x", 150);
	ck_assert_int_eq(kube_workqueue_get(q, 50, &k), BASE_ETIMEDOUT);
	ck_assert_int_eq(kube_workqueue_get(q, 2000, &k), 0);
	ck_assert_str_eq(k, "x");
	ck_assert_int_ge(base_now_mono_ms() - start, 150);
	ck_assert_int_lt(base_now_mono_ms() - start, 2000);
	kube_workqueue_done(q, k);
	free(k);
	kube_workqueue_shutdown(q);
	kube_workqueue_free(q);
}
END_TEST

/* Many waiting keys come out in the order they fall due, each once, earlier times winning. */
START_TEST(workqueue_waiting_keys_come_out_in_due_order)
{
	struct kube_workqueue *q = wq("unit-order");
	char name[16], *k;
	int seen[64] = {0};
	int last = -1;

	/* Keys 0..63 due at 300 + 5 * (63 - i) ms; key 10 brought forward to be first. */
	for (int i = 0; i < 64; i++) {
		snprintf(name, sizeof(name), "k%d", i);
		kube_workqueue_add_after(q, name, 300 + 5 * (63 - i));
	}
	kube_workqueue_add_after(q, "k10", 100);
	kube_workqueue_add_after(q, "k20", 60000); /* later than its time: ignored */
	for (int n = 0; n < 64; n++) {
		int i;

		ck_assert_int_eq(kube_workqueue_get(q, 5000, &k), 0);
		i = (int)strtol(k + 1, NULL, 10);
		ck_assert_msg(!seen[i], "%s came out twice", k);
		seen[i] = 1;
		if (n == 0)
			ck_assert_str_eq(k, "k10");
		else
			ck_assert_msg(last < 0 || i < last, "%s after k%d", k, last);
		if (n > 0)
			last = i;
		kube_workqueue_done(q, k);
		free(k);
	}
	ck_assert_int_eq(kube_workqueue_get(q, 50, &k), BASE_ETIMEDOUT);
	kube_workqueue_shutdown(q);
	kube_workqueue_free(q);
}
END_TEST

START_TEST(workqueue_rate_limit_is_max_of_per_item_and_bucket)
{
	struct kube_workqueue *q = wq("unit-rate");
	int64_t d, start, elapsed;

	/* Per item: 5 ms * 2^n. */
	ck_assert_int_eq(kube_workqueue_when(q, "a"), 5);
	ck_assert_int_eq(kube_workqueue_when(q, "a"), 10);
	ck_assert_int_eq(kube_workqueue_when(q, "a"), 20);
	ck_assert_int_eq(kube_workqueue_num_requeues(q, "a"), 3);
	kube_workqueue_forget(q, "a");
	ck_assert_int_eq(kube_workqueue_num_requeues(q, "a"), 0);
	ck_assert_int_eq(kube_workqueue_when(q, "a"), 5);
	/* Cap at 1000 s. */
	for (int i = 0; i < 40; i++)
		d = kube_workqueue_when(q, "b");
	ck_assert_int_eq(d, 1000000);
	kube_workqueue_free(q);

	/* Bucket: burst 100 spent, then 10/s, i.e. 100 ms per further token. */
	q = wq("unit-bucket");
	start = base_now_mono_ms();
	for (int i = 0; i < 100; i++) {
		char key[16];

		snprintf(key, sizeof(key), "k%d", i);
		ck_assert_int_eq(kube_workqueue_when(q, key), 5);
	}
	/* Tokens refill at 10/s while the loop runs (slow under valgrind): allow for it. */
	d = kube_workqueue_when(q, "k100");
	elapsed = base_now_mono_ms() - start;
	ck_assert_int_ge(d, 100 - elapsed - 5);
	ck_assert_int_le(d, 105);
	d = kube_workqueue_when(q, "k101");
	elapsed = base_now_mono_ms() - start;
	ck_assert_int_ge(d, 200 - elapsed - 5);
	ck_assert_int_le(d, 205);
	kube_workqueue_free(q);
}
END_TEST

struct worker_arg {
	struct kube_workqueue *q;
	int done;
};

static void *slow_worker(void *p)
{
	struct worker_arg *a = p;
	char *k;

	while (kube_workqueue_get(a->q, -1, &k) == 0) {
		base_sleep_ms(100);
		kube_workqueue_done(a->q, k);
		free(k);
		a->done++;
	}
	return NULL;
}

START_TEST(workqueue_shutdown_with_drain_waits_for_work_in_flight)
{
	struct kube_workqueue *q = wq("unit-drain");
	struct worker_arg a = {q, 0};
	pthread_t t;
	char *k;

	kube_workqueue_add(q, "a");
	kube_workqueue_add(q, "b");
	kube_workqueue_add_after(q, "late", 60000);
	pthread_create(&t, NULL, slow_worker, &a);
	ck_assert_int_eq(kube_workqueue_shutdown_drain(q, 5000), 0);
	pthread_join(t, NULL);
	ck_assert_int_eq(a.done, 2);
	kube_workqueue_add(q, "ignored");
	ck_assert_int_eq(kube_workqueue_get(q, 0, &k), BASE_ECANCELED);
	kube_workqueue_free(q);
}
END_TEST

struct stress {
	struct kube_workqueue *q;
	pthread_mutex_t mu;
	json_t *busy; /* keys being handled right now */
	int overlaps; /* times a key was handed to a second worker while busy */
	int handled;
};

static void *stress_worker(void *p)
{
	struct stress *s = p;
	char *k;

	while (kube_workqueue_get(s->q, -1, &k) == 0) {
		pthread_mutex_lock(&s->mu);
		if (json_object_get(s->busy, k))
			s->overlaps++;
		json_object_set_new(s->busy, k, json_true());
		pthread_mutex_unlock(&s->mu);
		base_sleep_ms(1);
		pthread_mutex_lock(&s->mu);
		json_object_del(s->busy, k);
		s->handled++;
		pthread_mutex_unlock(&s->mu);
		kube_workqueue_done(s->q, k);
		free(k);
	}
	return NULL;
}

START_TEST(workqueue_concurrent_workers_never_share_a_key)
{
	struct stress s = {wq("unit-stress"), PTHREAD_MUTEX_INITIALIZER, json_object(), 0, 0};
	pthread_t t[4];

	for (int i = 0; i < 4; i++)
		pthread_create(&t[i], NULL, stress_worker, &s);
	/* 5 hot keys added 2000 times while 4 workers drain them. */
	for (int i = 0; i < 2000; i++) {
		char key[8];

		snprintf(key, sizeof(key), "k%d", i % 5);
		kube_workqueue_add(s.q, key);
		if (i % 50 == 0)
			base_sleep_ms(1);
	}
	ck_assert_int_eq(kube_workqueue_shutdown_drain(s.q, 10000), 0);
	for (int i = 0; i < 4; i++)
		pthread_join(t[i], NULL);
	ck_assert_int_eq(s.overlaps, 0);
	/* Bursts collapsed: far fewer reconciles than adds, but at least one per key. */
	ck_assert_int_ge(s.handled, 5);
	ck_assert_int_lt(s.handled, 2000);
	kube_workqueue_free(s.q);
	json_decref(s.busy);
}
END_TEST

START_TEST(conditions_transition_time_moves_only_when_status_changes)
{
	json_t *conds = json_array(), *c;
	struct kube_condition ready = {"Ready", "False", "Provisioning", "creating", 1};
	int64_t t0 = 1700000000000, t1 = t0 + 60000, t2 = t0 + 120000;

	ck_assert_int_eq(kube_condition_set(conds, &ready, t0), 1);
	ck_assert_int_eq(kube_condition_set(conds, &ready, t1), 0); /* nothing changed */
	c = kube_condition_find(conds, "Ready");
	ck_assert_str_eq(json_string_value(json_object_get(c, "lastTransitionTime")),
			 "2023-11-14T22:13:20Z");
	ready.message = "still creating";
	ready.observed_generation = 2;
	ck_assert_int_eq(kube_condition_set(conds, &ready, t1), 1);
	ck_assert_str_eq(json_string_value(json_object_get(c, "lastTransitionTime")),
			 "2023-11-14T22:13:20Z");
	ck_assert_int_eq(json_integer_value(json_object_get(c, "observedGeneration")), 2);
	ck_assert(!kube_condition_is_true(conds, "Ready"));
	ready.status = "True";
	ready.reason = "Available";
	ck_assert_int_eq(kube_condition_set(conds, &ready, t2), 1);
	ck_assert_str_eq(json_string_value(json_object_get(c, "lastTransitionTime")),
			 "2023-11-14T22:15:20Z");
	ck_assert(kube_condition_is_true(conds, "Ready"));
	ready.reason = "not a reason";
	ck_assert_int_eq(kube_condition_set(conds, &ready, t2), BASE_EINVAL);
	ready.reason = "Ok";
	ready.status = "Maybe";
	ck_assert_int_eq(kube_condition_set(conds, &ready, t2), BASE_EINVAL);
	ck_assert_int_eq(json_array_size(conds), 1);
	ck_assert_int_eq(kube_condition_remove(conds, "Ready"), 1);
	ck_assert_int_eq(kube_condition_remove(conds, "Ready"), 0);
	json_decref(conds);
}
END_TEST

START_TEST(rest_paths_for_core_group_and_subresources)
{
	static const struct kube_resource widgets = {"test.globaldb.io", "v1", "widgets", 1};
	char *p;

	p = kube_path(&kube_res_configmaps, "ns", "cm", NULL);
	ck_assert_str_eq(p, "/api/v1/namespaces/ns/configmaps/cm");
	free(p);
	p = kube_path(&widgets, "ns", "w", "status");
	ck_assert_str_eq(p, "/apis/test.globaldb.io/v1/namespaces/ns/widgets/w/status");
	free(p);
	p = kube_path(&kube_res_namespaces, "ignored", "ns1", NULL);
	ck_assert_str_eq(p, "/api/v1/namespaces/ns1");
	free(p);
	p = kube_path(&widgets, NULL, NULL, NULL);
	ck_assert_str_eq(p, "/apis/test.globaldb.io/v1/widgets");
	free(p);
}
END_TEST

START_TEST(rest_refuses_names_that_would_change_the_url)
{
	struct kube_config *cfg;
	struct kube_client *c;
	struct kube_status st;
	char *msg = NULL;
	const char *kc = "current-context: t\n"
			 "contexts: [{name: t, context: {cluster: t}}]\n"
			 "clusters: [{name: t, cluster: {server: 'http://127.0.0.1:9'}}]\n";
	json_t *out = NULL;

	ck_assert_int_eq(
		kube_config_load_kubeconfig_data(kc, strlen(kc), "t", NULL, NULL, &cfg, &msg), 0);
	ck_assert_int_eq(kube_client_new(cfg, NULL, &c), 0);
	ck_assert_int_eq(kube_get(c, &kube_res_configmaps, "ns", "../secrets/x", &out, &st),
			 BASE_EINVAL);
	ck_assert_int_eq(kube_get(c, &kube_res_configmaps, "ns", "a?watch=1", &out, &st),
			 BASE_EINVAL);
	ck_assert_int_eq(kube_get(c, &kube_res_configmaps, "..", "a", &out, &st), BASE_EINVAL);
	ck_assert_int_eq(kube_list(c, &kube_res_configmaps, "a/b", NULL, &out, &st), BASE_EINVAL);
	ck_assert_int_eq(kube_delete(c, &kube_res_configmaps, "ns", "", NULL, &st), BASE_EINVAL);
	ck_assert_ptr_null(out);
	kube_client_free(c);
}
END_TEST

int main(void)
{
	Suite *s = suite_create("kube_unit");
	TCase *tc = tcase_create("all");
	SRunner *sr;
	int failed;

	tcase_set_timeout(tc, 20);
	tcase_add_test(tc, kubeconfig_current_context_resolves_server_namespace_and_token);
	tcase_add_test(tc, kubeconfig_explicit_context_and_insecure_flag_warns);
	tcase_add_test(tc, kubeconfig_errors_name_the_file_and_the_field);
	tcase_add_test(tc, token_file_is_cached_and_reread_after_invalidate);
	tcase_add_test(tc, exec_plugin_runs_with_its_env_and_honours_expiry);
	tcase_add_test(tc, exec_plugin_with_expired_credential_reruns_each_time);
	tcase_add_test(tc, exec_plugin_bad_output_is_an_error);
	tcase_add_test(tc, incluster_config_reads_env_and_service_account_files);
	tcase_add_test(tc, yaml_alias_bomb_is_refused);
	tcase_add_test(tc, status_bodies_map_to_error_codes);
	tcase_add_test(tc, watch_events_split_at_every_byte_are_delivered_once);
	tcase_add_test(tc, watch_line_over_the_cap_fails_without_growing);
	tcase_add_test(tc, watch_truncated_mid_event_and_error_events_end_the_stream);
	tcase_add_test(tc, store_relist_reports_exactly_the_differences);
	tcase_add_test(tc, workqueue_collapses_bursts_and_never_hands_a_key_to_two_workers);
	tcase_add_test(tc, workqueue_add_after_waits_and_keeps_the_earliest);
	tcase_add_test(tc, workqueue_waiting_keys_come_out_in_due_order);
	tcase_add_test(tc, workqueue_rate_limit_is_max_of_per_item_and_bucket);
	tcase_add_test(tc, workqueue_shutdown_with_drain_waits_for_work_in_flight);
	tcase_add_test(tc, workqueue_concurrent_workers_never_share_a_key);
	tcase_add_test(tc, conditions_transition_time_moves_only_when_status_changes);
	tcase_add_test(tc, rest_paths_for_core_group_and_subresources);
	tcase_add_test(tc, rest_refuses_names_that_would_change_the_url);
	suite_add_tcase(s, tc);
	sr = srunner_create(s);
	srunner_run_all(sr, CK_NORMAL);
	failed = srunner_ntests_failed(sr);
	srunner_free(sr);
	return failed ? EXIT_FAILURE : EXIT_SUCCESS;
}
