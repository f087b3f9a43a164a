/*
 * kube_env.h - the shared real kube-apiserver for pkg/kube's integration tests
 * (ctest fixture testenv; the environment is described by the JSON file in
 * $GDB_TESTENV_STATE): clients of it, a fresh namespace per test, and
 * testenv.py's disruptions (apiserver restart, etcd compaction), after which
 * the environment is running and ready again.
 */
#ifndef TESTS_KUBE_KUBE_ENV_H
#define TESTS_KUBE_KUBE_ENV_H

#include <check.h>
#include <spawn.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include "pkg/base/alloc.h"
#include "pkg/base/backoff.h"
#include "pkg/base/err.h"
#include "pkg/base/timeutil.h"
#include "pkg/kube/kube.h"

extern char **environ;

static json_t *state;

static inline const char *state_str(const char *key)
{
	const char *v = json_string_value(json_object_get(state, key));

	ck_assert_msg(v != NULL, "testenv state has no %s", key);
	return v;
}

static inline void load_state(void)
{
	const char *path = getenv("GDB_TESTENV_STATE");
	json_error_t err;

	ck_assert_msg(path != NULL, "GDB_TESTENV_STATE is not set");
	state = json_load_file(path, 0, &err);
	ck_assert_msg(state != NULL, "cannot read %s: %s", path, err.text);
}

static inline struct kube_client *client_from(const char *kubeconfig)
{
	struct kube_config *cfg;
	struct kube_client *c;
	char *msg = NULL;

	ck_assert_msg(kube_config_load_kubeconfig(kubeconfig, NULL, &cfg, &msg) == 0, "%s", msg);
	ck_assert_int_eq(kube_client_new(cfg, NULL, &c), 0);
	return c;
}

static inline struct kube_client *admin(void)
{
	return client_from(state_str("kubeconfig"));
}

/* Creates a fresh namespace and returns its name (caller frees). */
static inline char *fresh_namespace(struct kube_client *c, const char *prefix)
{
	char *name = xasprintf("%s-%llx", prefix, (unsigned long long)(base_rand64() & 0xffffffff));
	json_t *ns = json_pack("{s:s, s:s, s:{s:s}}", "apiVersion", "v1", "kind", "Namespace",
			       "metadata", "name", name);
	struct kube_status st;

	ck_assert_msg(kube_create(c, &kube_res_namespaces, NULL, ns, NULL, &st) == 0, "%s",
		      st.message);
	json_decref(ns);
	return name;
}

/* A ConfigMap as `kubectl apply` leaves it: with its last-applied annotation beside another. */
static inline json_t *configmap(const char *ns, const char *name, const char *k, const char *v)
{
	return json_pack("{s:s, s:s, s:{s:s, s:s, s:{s:s, s:s}}, s:{s:s}}", "apiVersion", "v1",
			 "kind", "ConfigMap", "metadata", "name", name, "namespace", ns,
			 "annotations", KUBE_LAST_APPLIED_ANNOTATION, "{\"kind\":\"ConfigMap\"}",
			 "example.com/kept", "yes", "data", k, v);
}

static inline const char *rv_of(json_t *o)
{
	return json_string_value(
		json_object_get(json_object_get(o, "metadata"), "resourceVersion"));
}

/* Runs testenv.py with a command (restart-apiserver, compact); asserts success. */
static inline void testenv(const char *cmd)
{
	const char *py = getenv("GDB_PYTHON"), *src = getenv("GDB_SOURCE_DIR");
	const char *st = getenv("GDB_TESTENV_STATE");
	char *script, *argv[6];
	pid_t pid;
	int status;

	ck_assert(py && src && st);
	script = xasprintf("%s/tests/env/testenv.py", src);
	argv[0] = (char *)py;
	argv[1] = script;
	argv[2] = (char *)cmd;
	argv[3] = "--state";
	argv[4] = (char *)st;
	argv[5] = NULL;
	ck_assert_int_eq(posix_spawn(&pid, py, NULL, NULL, argv, environ), 0);
	ck_assert_int_eq(waitpid(pid, &status, 0), pid);
	ck_assert_msg(WIFEXITED(status) && WEXITSTATUS(status) == 0, "testenv.py %s failed", cmd);
	free(script);
}

#endif
