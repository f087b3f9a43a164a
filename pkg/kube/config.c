/*
 * Configuration loading and credential refresh.
 *
 * A kubeconfig is read (capped), converted from YAML to jansson, and resolved
 * into a flat struct: server, TLS material (as file paths or in-memory PEM,
 * handed to libcurl as blobs so no key is written to disk) and one credential
 * source: a static token, a token file, or an exec plugin. The credential
 * source is consulted under cfg->mu on every request; the mutex covers only
 * the token/exec cache, everything else is immutable after load.
 *
 * Exec plugins are run with posix_spawn (safe in a threaded process), with the
 * plugin's env added to the child's environment only, stdin and stderr on
 * /dev/null, stdout through a pipe read with a size cap and a deadline.
 *
 * Size: ~870 lines. Loading and the credential sources share struct
 * kube_config and its mutex; if it grows, the exec plugin (run_plugin,
 * refresh_exec: ~160 lines) is the part to move to a file of its own.
 */
#include "pkg/kube/config.h"

#include <errno.h>
#include <fcntl.h>
#include <jansson.h>
#include <libgen.h>
#include <poll.h>
#include <pthread.h>
#include <signal.h>
#include <spawn.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "pkg/base/alloc.h"
#include "pkg/base/base64.h"
#include "pkg/base/buf.h"
#include "pkg/base/err.h"
#include "pkg/base/timeutil.h"
#include "pkg/kube/yaml.h"

extern char **environ;

struct pem {
	char *file; /* path, or NULL */
	char *data; /* in-memory PEM, or NULL */
	size_t len;
};

struct exec_plugin {
	char *api_version;
	char *command;
	char **argv; /* NULL-terminated, argv[0] = command */
	char **env;  /* NULL-terminated "NAME=value" additions */
};

struct kube_config {
	char *origin; /* "kubeconfig <path>" or "in-cluster config", for messages */
	char *server;
	char *ns;
	char *warning;
	int insecure;
	struct pem ca, cert, key;

	pthread_mutex_t mu;
	char *token;	  /* static token, or the cached file/exec token */
	char *token_file; /* re-read every KUBE_TOKEN_REFRESH_MS */
	int64_t token_read_ms;
	int has_exec;
	struct exec_plugin exec;
	int exec_valid;
	int64_t exec_expiry_ms; /* wall clock; 0 = no expiry */
	char *exec_cert, *exec_key;
	size_t exec_cert_len, exec_key_len;
};

static char *errf(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
static char *errf(const char *fmt, ...)
{
	va_list ap;
	char *s;

	va_start(ap, fmt);
	s = xvasprintf(fmt, ap);
	va_end(ap);
	return s;
}

static void set_err(char **errmsg, char *msg)
{
	if (errmsg)
		*errmsg = msg;
	else
		free(msg);
}

/* Reads a whole file, capped. *errmsg (if set) names the file and the reason. */
static int read_file(const char *path, size_t cap, char **data, size_t *len, char **errmsg)
{
	struct base_buf b = BASE_BUF_INIT(cap);
	char chunk[8192];
	struct stat sb;
	int fd, rc = 0;

	*data = NULL;
	fd = open(path, O_RDONLY | O_CLOEXEC | O_NONBLOCK);
	if (fd < 0) {
		*errmsg = errf("cannot read %s: %s", path, strerror(errno));
		return BASE_EIO;
	}
	/* Only regular files (symlinks to them are fine): never block on a FIFO or device. */
	if (fstat(fd, &sb) < 0 || !S_ISREG(sb.st_mode)) {
		*errmsg = errf("cannot read %s: not a regular file", path);
		close(fd);
		return BASE_EIO;
	}
	for (;;) {
		ssize_t r = read(fd, chunk, sizeof(chunk));

		if (r < 0 && errno == EINTR)
			continue;
		if (r < 0) {
			*errmsg = errf("cannot read %s: %s", path, strerror(errno));
			rc = BASE_EIO;
			break;
		}
		if (r == 0)
			break;
		if (base_buf_add(&b, chunk, (size_t)r) < 0) {
			*errmsg = errf("%s is larger than %zu bytes", path, cap);
			rc = BASE_ETOOBIG;
			break;
		}
	}
	close(fd);
	if (rc < 0) {
		base_memzero(b.data, b.len);
		base_buf_release(&b);
		return rc;
	}
	*data = base_buf_detach(&b, len);
	return 0;
}

static void pem_release(struct pem *p)
{
	free(p->file);
	if (p->data) {
		base_memzero(p->data, p->len);
		free(p->data);
	}
	memset(p, 0, sizeof(*p));
}

static void strv_free(char **v)
{
	if (!v)
		return;
	for (char **p = v; *p; p++)
		base_free_secret(*p);
	free(v);
}

void kube_config_free(struct kube_config *cfg)
{
	if (!cfg)
		return;
	free(cfg->origin);
	free(cfg->server);
	free(cfg->ns);
	free(cfg->warning);
	pem_release(&cfg->ca);
	pem_release(&cfg->cert);
	pem_release(&cfg->key);
	base_free_secret(cfg->token);
	free(cfg->token_file);
	free(cfg->exec.api_version);
	free(cfg->exec.command);
	strv_free(cfg->exec.argv);
	strv_free(cfg->exec.env);
	if (cfg->exec_cert) {
		base_memzero(cfg->exec_cert, cfg->exec_cert_len);
		free(cfg->exec_cert);
	}
	if (cfg->exec_key) {
		base_memzero(cfg->exec_key, cfg->exec_key_len);
		free(cfg->exec_key);
	}
	pthread_mutex_destroy(&cfg->mu);
	free(cfg);
}

static struct kube_config *config_alloc(const char *origin)
{
	struct kube_config *cfg = xcalloc(1, sizeof(*cfg));

	cfg->origin = xstrdup(origin);
	pthread_mutex_init(&cfg->mu, NULL);
	return cfg;
}

const char *kube_config_server(const struct kube_config *cfg)
{
	return cfg->server;
}

const char *kube_config_namespace(const struct kube_config *cfg)
{
	return cfg->ns;
}

const char *kube_config_warning(const struct kube_config *cfg)
{
	return cfg->warning;
}

/* A string field, or NULL when absent; *bad set when present but not a string. */
static const char *str_field(json_t *obj, const char *key, int *bad)
{
	json_t *v = json_object_get(obj, key);

	if (!v || json_is_null(v))
		return NULL;
	if (!json_is_string(v)) {
		*bad = 1;
		return NULL;
	}
	return json_string_value(v);
}

/* Finds the entry named name in a list of {name:…, <inner>:{…}}; returns <inner>. */
static json_t *named_entry(json_t *list, const char *name, const char *inner)
{
	size_t i;
	json_t *e;

	if (!json_is_array(list))
		return NULL;
	json_array_foreach(list, i, e)
	{
		const char *n = json_string_value(json_object_get(e, "name"));

		if (n && !strcmp(n, name))
			return json_is_object(json_object_get(e, inner)) ? json_object_get(e, inner)
									 : NULL;
	}
	return NULL;
}

static char *resolve_path(const char *dir, const char *p)
{
	if (p[0] == '/' || !dir)
		return xstrdup(p);
	return xasprintf("%s/%s", dir, p);
}

/* Fills a pem from either <key> (a path) or <key>-data (base64). Both absent is fine. */
static int load_pem(struct kube_config *cfg, json_t *obj, const char *where, const char *key,
		    const char *dir, struct pem *out, char **errmsg)
{
	char datakey[64];
	const char *file, *data;
	int bad = 0, rc;

	snprintf(datakey, sizeof(datakey), "%s-data", key);
	file = str_field(obj, key, &bad);
	data = str_field(obj, datakey, &bad);
	if (bad) {
		*errmsg = errf("%s: %s.%s: must be a string", cfg->origin, where, key);
		return BASE_EINVAL;
	}
	if (data && *data) {
		rc = base_base64_decode(data, &out->data, &out->len);
		if (rc < 0 || out->len == 0) {
			if (rc == 0)
				pem_release(out);
			*errmsg = errf("%s: %s.%s: not valid base64", cfg->origin, where, datakey);
			return BASE_EINVAL;
		}
		return 0;
	}
	if (file && *file) {
		char *msg = NULL;

		out->file = resolve_path(dir, file);
		/* Read now so a missing file is reported at load time, naming the field. */
		rc = read_file(out->file, KUBE_CONFIG_MAX_BYTES, &out->data, &out->len, &msg);
		if (rc < 0) {
			*errmsg = errf("%s: %s.%s: %s", cfg->origin, where, key, msg);
			free(msg);
			return rc;
		}
	}
	return 0;
}

static int load_exec(struct kube_config *cfg, json_t *ex, const char *where, char **errmsg)
{
	const char *api, *cmd;
	json_t *args = json_object_get(ex, "args"), *env = json_object_get(ex, "env"), *v;
	size_t i, n = 0;
	int bad = 0;

	api = str_field(ex, "apiVersion", &bad);
	cmd = str_field(ex, "command", &bad);
	if (bad || !cmd || !*cmd) {
		*errmsg = errf("%s: %s.exec.command: missing or not a string", cfg->origin, where);
		return BASE_EINVAL;
	}
	if (!api || (strcmp(api, "client.authentication.k8s.io/v1") &&
		     strcmp(api, "client.authentication.k8s.io/v1beta1"))) {
		*errmsg = errf("%s: %s.exec.apiVersion: want client.authentication.k8s.io/v1 "
			       "or v1beta1, got %s",
			       cfg->origin, where, api ? api : "nothing");
		return BASE_EINVAL;
	}
	if ((args && !json_is_array(args) && !json_is_null(args)) ||
	    (env && !json_is_array(env) && !json_is_null(env))) {
		*errmsg = errf("%s: %s.exec: args and env must be lists", cfg->origin, where);
		return BASE_EINVAL;
	}
	cfg->has_exec = 1;
	cfg->exec.api_version = xstrdup(api);
	cfg->exec.command = xstrdup(cmd);
	cfg->exec.argv = xcalloc(json_array_size(args) + 2, sizeof(char *));
	cfg->exec.argv[0] = xstrdup(cmd);
	json_array_foreach(args, i, v)
	{
		if (!json_is_string(v)) {
			*errmsg =
				errf("%s: %s.exec.args[%zu]: not a string", cfg->origin, where, i);
			return BASE_EINVAL;
		}
		cfg->exec.argv[i + 1] = xstrdup(json_string_value(v));
	}
	cfg->exec.env = xcalloc(json_array_size(env) + 1, sizeof(char *));
	json_array_foreach(env, i, v)
	{
		const char *name = json_string_value(json_object_get(v, "name"));
		const char *value = json_string_value(json_object_get(v, "value"));

		if (!name || !*name || strchr(name, '=') || !value) {
			*errmsg = errf("%s: %s.exec.env[%zu]: needs a name and a value",
				       cfg->origin, where, i);
			return BASE_EINVAL;
		}
		cfg->exec.env[n++] = xasprintf("%s=%s", name, value);
	}
	return 0;
}

static int parse_bool(const char *s, int *out)
{
	if (!s || !strcmp(s, "false") || !strcmp(s, "False") || !strcmp(s, "FALSE")) {
		*out = 0;
		return 0;
	}
	if (!strcmp(s, "true") || !strcmp(s, "True") || !strcmp(s, "TRUE")) {
		*out = 1;
		return 0;
	}
	return BASE_EINVAL;
}

static int resolve(struct kube_config *cfg, json_t *root, const char *dir, const char *context,
		   char **errmsg)
{
	json_t *ctx, *cluster, *user;
	const char *cluster_name, *user_name, *server, *s;
	char where[320];
	int bad = 0, rc;

	if (!json_is_object(root)) {
		*errmsg = errf("%s: not a kubeconfig (top level is not a mapping)", cfg->origin);
		return BASE_EINVAL;
	}
	if (!context) {
		context = str_field(root, "current-context", &bad);
		if (!context || !*context) {
			*errmsg = errf("%s: current-context: not set and no context was given",
				       cfg->origin);
			return BASE_EINVAL;
		}
	}
	ctx = named_entry(json_object_get(root, "contexts"), context, "context");
	if (!ctx) {
		*errmsg = errf("%s: contexts: no context named \"%s\"", cfg->origin, context);
		return BASE_EINVAL;
	}
	cluster_name = str_field(ctx, "cluster", &bad);
	user_name = str_field(ctx, "user", &bad);
	s = str_field(ctx, "namespace", &bad);
	if (s && *s)
		cfg->ns = xstrdup(s);
	if (bad || !cluster_name) {
		*errmsg = errf("%s: contexts[%s].context.cluster: missing", cfg->origin, context);
		return BASE_EINVAL;
	}
	cluster = named_entry(json_object_get(root, "clusters"), cluster_name, "cluster");
	if (!cluster) {
		*errmsg = errf("%s: clusters: no cluster named \"%s\"", cfg->origin, cluster_name);
		return BASE_EINVAL;
	}
	snprintf(where, sizeof(where), "clusters[%s].cluster", cluster_name);
	server = str_field(cluster, "server", &bad);
	if (bad || !server || (strncmp(server, "https://", 8) && strncmp(server, "http://", 7))) {
		*errmsg = errf("%s: %s.server: missing or not an http(s) URL", cfg->origin, where);
		return BASE_EINVAL;
	}
	cfg->server = xstrdup(server);
	while (strlen(cfg->server) > 8 && cfg->server[strlen(cfg->server) - 1] == '/')
		cfg->server[strlen(cfg->server) - 1] = '\0';
	if (parse_bool(str_field(cluster, "insecure-skip-tls-verify", &bad), &cfg->insecure) < 0 ||
	    bad) {
		*errmsg =
			errf("%s: %s.insecure-skip-tls-verify: not a boolean", cfg->origin, where);
		return BASE_EINVAL;
	}
	rc = load_pem(cfg, cluster, where, "certificate-authority", dir, &cfg->ca, errmsg);
	if (rc < 0)
		return rc;
	if (cfg->insecure)
		cfg->warning = errf("%s: %s.insecure-skip-tls-verify is true: the apiserver's "
				    "certificate is not verified",
				    cfg->origin, where);

	if (!user_name || !*user_name)
		return 0; /* anonymous */
	user = named_entry(json_object_get(root, "users"), user_name, "user");
	if (!user) {
		*errmsg = errf("%s: users: no user named \"%s\"", cfg->origin, user_name);
		return BASE_EINVAL;
	}
	snprintf(where, sizeof(where), "users[%s].user", user_name);
	rc = load_pem(cfg, user, where, "client-certificate", dir, &cfg->cert, errmsg);
	if (rc == 0)
		rc = load_pem(cfg, user, where, "client-key", dir, &cfg->key, errmsg);
	if (rc < 0)
		return rc;
	if (!cfg->cert.data != !cfg->key.data) {
		*errmsg = errf("%s: %s: client-certificate and client-key must be given together",
			       cfg->origin, where);
		return BASE_EINVAL;
	}
	s = str_field(user, "token", &bad);
	if (s && *s)
		cfg->token = xstrdup(s);
	s = str_field(user, "tokenFile", &bad);
	if (bad) {
		*errmsg = errf("%s: %s.token: must be a string", cfg->origin, where);
		return BASE_EINVAL;
	}
	if (s && *s && !cfg->token) {
		char *msg = NULL;

		cfg->token_file = resolve_path(dir, s);
		pthread_mutex_lock(&cfg->mu);
		rc = 0;
		{
			char *data;
			size_t len;

			rc = read_file(cfg->token_file, KUBE_TOKEN_MAX_BYTES, &data, &len, &msg);
			if (rc == 0) {
				while (len > 0 && (data[len - 1] == '\n' || data[len - 1] == '\r'))
					data[--len] = '\0';
				cfg->token = data;
				cfg->token_read_ms = base_now_mono_ms();
			}
		}
		pthread_mutex_unlock(&cfg->mu);
		if (rc < 0) {
			*errmsg = errf("%s: %s.tokenFile: %s", cfg->origin, where, msg);
			free(msg);
			return rc;
		}
	}
	if (json_is_object(json_object_get(user, "exec")))
		return load_exec(cfg, json_object_get(user, "exec"), where, errmsg);
	if (json_object_get(user, "auth-provider")) {
		*errmsg = errf("%s: %s.auth-provider: not supported (use an exec plugin)",
			       cfg->origin, where);
		return BASE_EINVAL;
	}
	return 0;
}

int kube_config_load_kubeconfig_data(const char *data, size_t n, const char *name, const char *dir,
				     const char *context, struct kube_config **out, char **errmsg)
{
	struct kube_config *cfg;
	json_t *root = NULL;
	char *msg = NULL, *origin;
	int rc;

	*out = NULL;
	if (n > KUBE_CONFIG_MAX_BYTES) {
		set_err(errmsg, errf("kubeconfig %s: larger than %u bytes",
				     name ? name : "(memory)", KUBE_CONFIG_MAX_BYTES));
		return BASE_ETOOBIG;
	}
	origin = xasprintf("kubeconfig %s", name ? name : "(memory)");
	cfg = config_alloc(origin);
	free(origin);
	rc = kube_yaml_to_json(data, n, &root, &msg);
	if (rc < 0) {
		set_err(errmsg, errf("%s: %s", cfg->origin, msg));
		free(msg);
		goto out;
	}
	rc = resolve(cfg, root, dir ? dir : ".", context, &msg);
	if (rc < 0)
		set_err(errmsg, msg);
out:
	json_decref(root);
	if (rc < 0)
		kube_config_free(cfg);
	else
		*out = cfg;
	return rc;
}

int kube_config_load_kubeconfig(const char *path, const char *context, struct kube_config **out,
				char **errmsg)
{
	char *owned = NULL, *data = NULL, *msg = NULL, *dircopy;
	size_t len;
	int rc;

	*out = NULL;
	if (!path) {
		const char *env = getenv("KUBECONFIG"), *home = getenv("HOME");

		if (env && *env) {
			owned = xstrdup(env);
			*strchrnul(owned, ':') = '\0';
		} else if (home) {
			owned = xasprintf("%s/.kube/config", home);
		} else {
			set_err(errmsg, xstrdup("no kubeconfig: KUBECONFIG and HOME are unset"));
			return BASE_EINVAL;
		}
		path = owned;
	}
	rc = read_file(path, KUBE_CONFIG_MAX_BYTES, &data, &len, &msg);
	if (rc < 0) {
		set_err(errmsg, errf("kubeconfig %s: %s", path, msg));
		free(msg);
		goto out;
	}
	dircopy = xstrdup(path);
	rc = kube_config_load_kubeconfig_data(data, len, path, dirname(dircopy), context, out,
					      errmsg);
	free(dircopy);
out:
	if (data) {
		base_memzero(data, len);
		free(data);
	}
	free(owned);
	return rc;
}

int kube_config_load_incluster(const char *sa_dir, struct kube_config **out, char **errmsg)
{
	const char *host = getenv("KUBERNETES_SERVICE_HOST"),
		   *port = getenv("KUBERNETES_SERVICE_PORT");
	struct kube_config *cfg;
	char *path, *msg = NULL, *data;
	size_t len;
	int rc;

	*out = NULL;
	if (!sa_dir)
		sa_dir = KUBE_INCLUSTER_DIR;
	if (!host || !*host || !port || !*port) {
		set_err(errmsg, xstrdup("in-cluster config: KUBERNETES_SERVICE_HOST and "
					"KUBERNETES_SERVICE_PORT must be set"));
		return BASE_EINVAL;
	}
	cfg = config_alloc("in-cluster config");
	cfg->server = strchr(host, ':') ? xasprintf("https://[%s]:%s", host, port)
					: xasprintf("https://%s:%s", host, port);
	cfg->ca.file = xasprintf("%s/ca.crt", sa_dir);
	rc = read_file(cfg->ca.file, KUBE_CONFIG_MAX_BYTES, &cfg->ca.data, &cfg->ca.len, &msg);
	if (rc < 0)
		goto fail;
	cfg->token_file = xasprintf("%s/token", sa_dir);
	rc = read_file(cfg->token_file, KUBE_TOKEN_MAX_BYTES, &cfg->token, &len, &msg);
	if (rc < 0)
		goto fail;
	while (len > 0 && (cfg->token[len - 1] == '\n' || cfg->token[len - 1] == '\r'))
		cfg->token[--len] = '\0';
	cfg->token_read_ms = base_now_mono_ms();
	path = xasprintf("%s/namespace", sa_dir);
	if (read_file(path, 1024, &data, &len, &msg) == 0) {
		while (len > 0 && (data[len - 1] == '\n' || data[len - 1] == '\r'))
			data[--len] = '\0';
		cfg->ns = data;
	}
	free(msg);
	free(path);
	*out = cfg;
	return 0;
fail:
	set_err(errmsg, errf("in-cluster config: %s", msg));
	free(msg);
	kube_config_free(cfg);
	return rc;
}

/* Re-reads the token file when due. Called with cfg->mu held. */
int kube_config_load_default(const char *path, struct kube_config **out, char **errmsg)
{
	int rc;

	if (path && *path)
		return kube_config_load_kubeconfig(path, NULL, out, errmsg);
	rc = kube_config_load_incluster(NULL, out, errmsg);
	if (rc < 0) {
		if (errmsg) {
			free(*errmsg);
			*errmsg = NULL;
		}
		rc = kube_config_load_kubeconfig(NULL, NULL, out, errmsg);
	}
	return rc;
}

static int refresh_token_file(struct kube_config *cfg, char **errmsg)
{
	char *data, *msg = NULL;
	size_t len;
	int rc;

	if (cfg->token && base_now_mono_ms() - cfg->token_read_ms < KUBE_TOKEN_REFRESH_MS)
		return 0;
	rc = read_file(cfg->token_file, KUBE_TOKEN_MAX_BYTES, &data, &len, &msg);
	if (rc < 0) {
		/* Keep using the old token if we had one: the file may be mid-rotation. */
		if (cfg->token) {
			free(msg);
			return 0;
		}
		*errmsg = errf("%s: token file: %s", cfg->origin, msg);
		free(msg);
		return rc;
	}
	while (len > 0 && (data[len - 1] == '\n' || data[len - 1] == '\r'))
		data[--len] = '\0';
	base_free_secret(cfg->token);
	cfg->token = data;
	cfg->token_read_ms = base_now_mono_ms();
	return 0;
}

/* Runs the plugin and returns its stdout (capped). */
static int run_plugin(struct kube_config *cfg, char **out, size_t *outlen, char **errmsg)
{
	posix_spawn_file_actions_t fa;
	struct base_buf b = BASE_BUF_INIT(KUBE_EXEC_MAX_OUTPUT);
	size_t nenv = 0, nadd = 0, i;
	char **envp;
	int pipefd[2], status = 0, rc = 0;
	pid_t pid;
	int64_t deadline = base_now_mono_ms() + KUBE_EXEC_TIMEOUT_MS;

	while (environ && environ[nenv])
		nenv++;
	while (cfg->exec.env[nadd])
		nadd++;
	envp = xcalloc(nenv + nadd + 2, sizeof(char *));
	for (i = 0; i < nenv; i++)
		envp[i] = environ[i];
	for (i = 0; i < nadd; i++)
		envp[nenv + i] = cfg->exec.env[i];
	envp[nenv + nadd] = xasprintf("KUBERNETES_EXEC_INFO={\"apiVersion\":\"%s\",\"kind\":"
				      "\"ExecCredential\",\"spec\":{\"interactive\":false}}",
				      cfg->exec.api_version);
	if (pipe2(pipefd, O_CLOEXEC) < 0) {
		*errmsg = errf("%s: exec plugin: pipe: %s", cfg->origin, strerror(errno));
		rc = BASE_EIO;
		goto out_env;
	}
	posix_spawn_file_actions_init(&fa);
	posix_spawn_file_actions_addopen(&fa, 0, "/dev/null", O_RDONLY, 0);
	posix_spawn_file_actions_adddup2(&fa, pipefd[1], 1);
	posix_spawn_file_actions_addopen(&fa, 2, "/dev/null", O_WRONLY, 0);
	rc = posix_spawnp(&pid, cfg->exec.command, &fa, NULL, cfg->exec.argv, envp);
	posix_spawn_file_actions_destroy(&fa);
	close(pipefd[1]);
	if (rc != 0) {
		*errmsg = errf("%s: exec plugin %s: %s", cfg->origin, cfg->exec.command,
			       strerror(rc));
		close(pipefd[0]);
		rc = BASE_EIO;
		goto out_env;
	}
	for (;;) {
		struct pollfd p = {pipefd[0], POLLIN, 0};
		int64_t left = deadline - base_now_mono_ms();
		char chunk[4096];
		ssize_t r;

		if (left <= 0) {
			rc = BASE_ETIMEDOUT;
			break;
		}
		if (poll(&p, 1, (int)left) < 0 && errno != EINTR) {
			rc = BASE_EIO;
			break;
		}
		if (!(p.revents & (POLLIN | POLLHUP | POLLERR)))
			continue;
		r = read(pipefd[0], chunk, sizeof(chunk));
		if (r < 0 && errno == EINTR)
			continue;
		if (r <= 0)
			break;
		if (base_buf_add(&b, chunk, (size_t)r) < 0) {
			rc = BASE_ETOOBIG;
			break;
		}
	}
	close(pipefd[0]);
	if (rc < 0)
		kill(pid, SIGKILL);
	while (waitpid(pid, &status, 0) < 0 && errno == EINTR)
		;
	if (rc == 0 && (!WIFEXITED(status) || WEXITSTATUS(status) != 0))
		rc = BASE_EIO;
	if (rc < 0) {
		*errmsg = errf("%s: exec plugin %s: %s", cfg->origin, cfg->exec.command,
			       rc == BASE_ETIMEDOUT ? "timed out"
			       : rc == BASE_ETOOBIG ? "output too large"
						    : "failed");
		base_memzero(b.data, b.len);
		base_buf_release(&b);
	} else {
		*out = base_buf_detach(&b, outlen);
	}
out_env:
	free(envp[nenv + nadd]);
	free(envp);
	return rc;
}

/* Runs the exec plugin when its credential is missing or expired. Called with cfg->mu held. */
static int refresh_exec(struct kube_config *cfg, char **errmsg)
{
	char *out = NULL;
	size_t len = 0;
	json_t *root = NULL, *st;
	const char *kind, *api, *tok, *cert, *key, *exp;
	int64_t expiry = 0;
	int rc;

	/* Refresh a little before expiry so a request does not race it. */
	if (cfg->exec_valid &&
	    (cfg->exec_expiry_ms == 0 || base_now_real_ms() < cfg->exec_expiry_ms - 10000))
		return 0;
	rc = run_plugin(cfg, &out, &len, errmsg);
	if (rc < 0)
		return rc;
	root = json_loadb(out, len, 0, NULL);
	base_memzero(out, len);
	free(out);
	rc = BASE_EPARSE;
	kind = json_string_value(json_object_get(root, "kind"));
	api = json_string_value(json_object_get(root, "apiVersion"));
	st = json_object_get(root, "status");
	if (!kind || strcmp(kind, "ExecCredential") || !api || strcmp(api, cfg->exec.api_version) ||
	    !json_is_object(st)) {
		*errmsg = errf("%s: exec plugin %s: output is not an ExecCredential of %s",
			       cfg->origin, cfg->exec.command, cfg->exec.api_version);
		goto out;
	}
	tok = json_string_value(json_object_get(st, "token"));
	cert = json_string_value(json_object_get(st, "clientCertificateData"));
	key = json_string_value(json_object_get(st, "clientKeyData"));
	exp = json_string_value(json_object_get(st, "expirationTimestamp"));
	if ((!tok || !*tok) && (!cert || !key)) {
		*errmsg = errf("%s: exec plugin %s: status has neither token nor client "
			       "certificate and key",
			       cfg->origin, cfg->exec.command);
		goto out;
	}
	if (exp && base_time_parse(exp, &expiry) < 0) {
		*errmsg = errf("%s: exec plugin %s: status.expirationTimestamp: not RFC 3339",
			       cfg->origin, cfg->exec.command);
		goto out;
	}
	base_free_secret(cfg->token);
	cfg->token = tok && *tok ? xstrdup(tok) : NULL;
	if (cfg->exec_cert) {
		base_memzero(cfg->exec_cert, cfg->exec_cert_len);
		free(cfg->exec_cert);
	}
	if (cfg->exec_key) {
		base_memzero(cfg->exec_key, cfg->exec_key_len);
		free(cfg->exec_key);
	}
	cfg->exec_cert = cert ? xstrdup(cert) : NULL;
	cfg->exec_cert_len = cert ? strlen(cert) : 0;
	cfg->exec_key = key ? xstrdup(key) : NULL;
	cfg->exec_key_len = key ? strlen(key) : 0;
	cfg->exec_expiry_ms = expiry;
	cfg->exec_valid = 1;
	rc = 0;
out:
	json_decref(root);
	return rc;
}

void kube_config_invalidate(struct kube_config *cfg)
{
	pthread_mutex_lock(&cfg->mu);
	cfg->exec_valid = 0;
	if (cfg->token_file)
		cfg->token_read_ms = base_now_mono_ms() - KUBE_TOKEN_REFRESH_MS;
	pthread_mutex_unlock(&cfg->mu);
}

static void set_blob(CURL *h, CURLoption opt, const char *data, size_t len)
{
	struct curl_blob blob = {(void *)data, len, CURL_BLOB_COPY};

	curl_easy_setopt(h, opt, &blob);
}

int kube_config_apply(struct kube_config *cfg, CURL *h, struct curl_slist **headers, char **errmsg)
{
	int rc = 0;

	curl_easy_setopt(h, CURLOPT_SSL_VERIFYPEER, cfg->insecure ? 0L : 1L);
	curl_easy_setopt(h, CURLOPT_SSL_VERIFYHOST, cfg->insecure ? 0L : 2L);
	if (cfg->ca.data)
		set_blob(h, CURLOPT_CAINFO_BLOB, cfg->ca.data, cfg->ca.len);
	if (cfg->cert.data) {
		curl_easy_setopt(h, CURLOPT_SSLCERTTYPE, "PEM");
		set_blob(h, CURLOPT_SSLCERT_BLOB, cfg->cert.data, cfg->cert.len);
		curl_easy_setopt(h, CURLOPT_SSLKEYTYPE, "PEM");
		set_blob(h, CURLOPT_SSLKEY_BLOB, cfg->key.data, cfg->key.len);
	}
	pthread_mutex_lock(&cfg->mu);
	if (cfg->has_exec)
		rc = refresh_exec(cfg, errmsg);
	else if (cfg->token_file)
		rc = refresh_token_file(cfg, errmsg);
	if (rc == 0 && cfg->has_exec && cfg->exec_cert && cfg->exec_key) {
		curl_easy_setopt(h, CURLOPT_SSLCERTTYPE, "PEM");
		set_blob(h, CURLOPT_SSLCERT_BLOB, cfg->exec_cert, cfg->exec_cert_len);
		curl_easy_setopt(h, CURLOPT_SSLKEYTYPE, "PEM");
		set_blob(h, CURLOPT_SSLKEY_BLOB, cfg->exec_key, cfg->exec_key_len);
	}
	if (rc == 0 && cfg->token) {
		char *hdr = xasprintf("Authorization: Bearer %s", cfg->token);

		*headers = curl_slist_append(*headers, hdr);
		base_free_secret(hdr);
	}
	pthread_mutex_unlock(&cfg->mu);
	return rc;
}
