/*
 * pkg/kube/config: kubeconfig files, in-cluster configuration, token files and exec credential plugins:
 * what kube_config_* reads, what it refuses and the Authorization header it produces.
 * (Unit tests, no server.)
 */
#include <check.h>
#include <curl/curl.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "pkg/base/alloc.h"
#include "pkg/base/err.h"
#include "pkg/base/timeutil.h"
#include "pkg/kube/kube.h"
#include "tests/check_main.h"

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

/* --kubeconfig when given; outside a pod, $KUBECONFIG (client-go's order). */
START_TEST(default_loading_takes_the_flag_then_kubeconfig_outside_a_pod)
{
	struct kube_config *cfg;
	char *msg = NULL, *path;

	make_tmpdir();
	path = write_file("config", kubeconfig_two_contexts, 0600);
	unsetenv("KUBERNETES_SERVICE_HOST");
	unsetenv("KUBERNETES_SERVICE_PORT");
	ck_assert_int_eq(kube_config_load_default(path, &cfg, &msg), 0);
	ck_assert_str_eq(kube_config_server(cfg), "https://127.0.0.1:6443");
	kube_config_free(cfg);
	setenv("KUBECONFIG", path, 1);
	ck_assert_int_eq(kube_config_load_default(NULL, &cfg, &msg), 0);
	ck_assert_ptr_null(msg);
	ck_assert_str_eq(kube_config_namespace(cfg), "team-a");
	kube_config_free(cfg);
	setenv("KUBECONFIG", "/nonexistent/kubeconfig", 1);
	ck_assert_int_ne(kube_config_load_default(NULL, &cfg, &msg), 0);
	ck_assert_ptr_nonnull(msg);
	free(msg);
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

GDB_CHECK_MAIN("kube_config", 20, kubeconfig_current_context_resolves_server_namespace_and_token,
	       default_loading_takes_the_flag_then_kubeconfig_outside_a_pod,
	       kubeconfig_explicit_context_and_insecure_flag_warns,
	       kubeconfig_errors_name_the_file_and_the_field,
	       token_file_is_cached_and_reread_after_invalidate,
	       exec_plugin_runs_with_its_env_and_honours_expiry,
	       exec_plugin_with_expired_credential_reruns_each_time,
	       exec_plugin_bad_output_is_an_error,
	       incluster_config_reads_env_and_service_account_files)
