/*
 * config.h - where the apiserver is and how to authenticate to it.
 *
 * Two sources, as client-go's clientcmd and rest.InClusterConfig:
 *  - a kubeconfig file (YAML): the current context or a named one; cluster
 *    `server`, `certificate-authority` / `certificate-authority-data`,
 *    `insecure-skip-tls-verify`; user `client-certificate(-data)`,
 *    `client-key(-data)`, `token`, `tokenFile`, and `exec` credential plugins
 *    (client.authentication.k8s.io/v1 and v1beta1 ExecCredential, with
 *    `expirationTimestamp` honoured). Relative paths are relative to the
 *    file's directory, as kubectl resolves them.
 *  - in-cluster: KUBERNETES_SERVICE_HOST / KUBERNETES_SERVICE_PORT, the
 *    service-account CA and token under /var/run/secrets/kubernetes.io/
 *    serviceaccount.
 *
 * TLS verification is always on, unless the kubeconfig itself says
 * `insecure-skip-tls-verify: true`; then kube_config_warning() returns a
 * sentence for the caller to log (libraries never print).
 *
 * Tokens from files are re-read at most every KUBE_TOKEN_REFRESH_MS (bound
 * service-account tokens rotate); exec plugins are re-run when their
 * credential expires or after kube_config_invalidate() (the REST client
 * calls it on a 401). Credentials are kept in memory only and wiped on free.
 *
 * Errors name the file and the field ("kubeconfig /x/config: users[alice]
 * .user.client-key: cannot read /x/k.pem: No such file or directory").
 *
 * Thread-safety: a loaded config is shared by all threads of a client; the
 * credential accessors lock internally.
 */
#ifndef KUBE_CONFIG_H
#define KUBE_CONFIG_H

#include <curl/curl.h>
#include <stddef.h>

/* Caps on files read on behalf of a config. */
#define KUBE_CONFIG_MAX_BYTES (4u << 20) /* kubeconfig, CA, cert, key files */
#define KUBE_TOKEN_MAX_BYTES (64u << 10) /* token files */
#define KUBE_EXEC_MAX_OUTPUT (1u << 20)	 /* exec plugin stdout */
#define KUBE_EXEC_TIMEOUT_MS 30000	 /* exec plugin run time */
#define KUBE_TOKEN_REFRESH_MS 60000	 /* token file re-read period */

#define KUBE_INCLUSTER_DIR "/var/run/secrets/kubernetes.io/serviceaccount"

struct kube_config;

/*
 * Loads a kubeconfig. path NULL means $KUBECONFIG (first entry) or
 * ~/.kube/config; context NULL means current-context. On success *out is a
 * new config (free with kube_config_free). On failure returns BASE_EINVAL
 * (missing or bad field), BASE_EPARSE (not YAML), BASE_EIO (unreadable file)
 * or BASE_ETOOBIG, and sets *errmsg (caller frees) if errmsg is not NULL.
 */
int kube_config_load_kubeconfig(const char *path, const char *context, struct kube_config **out,
				char **errmsg);

/* As above, from a kubeconfig already in memory; dir resolves relative paths (NULL = "."). */
int kube_config_load_kubeconfig_data(const char *data, size_t n, const char *name, const char *dir,
				     const char *context, struct kube_config **out, char **errmsg);

/*
 * Loads the in-cluster config. sa_dir is the service-account directory
 * (NULL = KUBE_INCLUSTER_DIR). Fails with BASE_EINVAL when the environment
 * variables are unset (not running in a pod), BASE_EIO when files are missing.
 */
int kube_config_load_incluster(const char *sa_dir, struct kube_config **out, char **errmsg);

/*
 * client-go's loading order, as controllers use it: the kubeconfig at path
 * when path is set; else the pod's ServiceAccount (in-cluster); else the
 * default kubeconfig ($KUBECONFIG, ~/.kube/config). Returns and errors as
 * kube_config_load_kubeconfig (the last one tried).
 */
int kube_config_load_default(const char *path, struct kube_config **out, char **errmsg);

/* Frees cfg and wipes its credentials. NULL is fine. */
void kube_config_free(struct kube_config *cfg);

/* "https://host:port" without a trailing slash. Borrowed; lives as long as cfg. */
const char *kube_config_server(const struct kube_config *cfg);
/* The context's namespace (in-cluster: the pod's), or NULL. Borrowed. */
const char *kube_config_namespace(const struct kube_config *cfg);
/* A warning for the caller to log (TLS verification disabled), or NULL. Borrowed. */
const char *kube_config_warning(const struct kube_config *cfg);

/*
 * For the REST client: sets TLS options (CA, client certificate, verify
 * flags) on h and appends an "Authorization: Bearer" header to *headers when
 * a token is configured. Runs an exec plugin or re-reads a token file when
 * due. Thread-safe. 0, or a negative code with *errmsg set (caller frees).
 */
int kube_config_apply(struct kube_config *cfg, CURL *h, struct curl_slist **headers, char **errmsg);

/* Marks cached credentials stale (after a 401): the next apply refreshes them. */
void kube_config_invalidate(struct kube_config *cfg);

#endif
