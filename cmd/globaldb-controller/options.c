/*
 * Flag parsing by table. Each flag has a kind (string, bool, int) and a
 * setter that validates its value; the command line is applied first, then
 * the environment fills in every flag the command line did not set, then the
 * defaults the rest. Cross-flag rules (the leader-election namespace) are
 * settled last. We parse by hand rather than with getopt_long because getopt
 * accepts abbreviations and prints its own messages, and Kubernetes users
 * expect Go's flag syntax.
 */
#include "cmd/globaldb-controller/options.h"

#include <ctype.h>
#include <errno.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <unistd.h>

#include "pkg/base/alloc.h"
#include "pkg/globaldb/guard.h"
#include "pkg/globaldb/validate.h"
#include "pkg/server/server.h"

#define SA_NAMESPACE_FILE "/var/run/secrets/kubernetes.io/serviceaccount/namespace"
#define DNS1123_LABEL_MAX 63
#define DNS1123_SUBDOMAIN_MAX 253

enum kind { STR, BOOL, INT };

struct flag {
	const char *name;
	enum kind kind;
	const char *def; /* default, as text */
	const char *arg; /* the value's name in --help */
	const char *help;
	int (*set)(struct options *o, const char *v, char *why, size_t n);
};

static int set_string(char **dst, const char *v)
{
	free(*dst);
	*dst = xstrdup(v);
	return 0;
}

static int parse_bool(const char *v, int *out)
{
	if (!strcasecmp(v, "true") || !strcmp(v, "1") || !strcasecmp(v, "t"))
		*out = 1;
	else if (!strcasecmp(v, "false") || !strcmp(v, "0") || !strcasecmp(v, "f"))
		*out = 0;
	else
		return -1;
	return 0;
}

/* RFC 1123 label: lower-case alphanumerics and '-', alphanumeric at both ends. */
static int dns_label(const char *s)
{
	size_t n = strlen(s);

	if (n == 0 || n > DNS1123_LABEL_MAX || s[0] == '-' || s[n - 1] == '-')
		return 0;
	for (size_t i = 0; i < n; i++)
		if (!(islower((unsigned char)s[i]) || isdigit((unsigned char)s[i]) || s[i] == '-'))
			return 0;
	return 1;
}

/* RFC 1123 subdomain: dot-separated labels, 253 characters at most. */
static int dns_subdomain(const char *s)
{
	char *copy, *rest, *label;
	int ok = strlen(s) > 0 && strlen(s) <= DNS1123_SUBDOMAIN_MAX;

	copy = rest = xstrdup(s);
	while (ok && (label = strsep(&rest, ".")))
		ok = dns_label(label);
	free(copy);
	return ok;
}

static int set_kubeconfig(struct options *o, const char *v, char *why, size_t n)
{
	if (*v && access(v, R_OK) < 0) {
		snprintf(why, n, "cannot read %s: %s", v, strerror(errno));
		return -1;
	}
	return set_string(&o->kubeconfig, v);
}

static int set_namespace(struct options *o, const char *v, char *why, size_t n)
{
	if (*v && !dns_label(v)) {
		snprintf(why, n, "%s is not a valid namespace name", v);
		return -1;
	}
	return set_string(&o->namespace, v);
}

static int set_leader_elect(struct options *o, const char *v, char *why, size_t n)
{
	if (parse_bool(v, &o->leader_elect) < 0) {
		snprintf(why, n, "%s is not a boolean (true or false)", v);
		return -1;
	}
	return 0;
}

static int set_le_namespace(struct options *o, const char *v, char *why, size_t n)
{
	if (*v && !dns_label(v)) {
		snprintf(why, n, "%s is not a valid namespace name", v);
		return -1;
	}
	return set_string(&o->leader_election_namespace, v);
}

static int set_le_id(struct options *o, const char *v, char *why, size_t n)
{
	if (!dns_subdomain(v)) {
		snprintf(why, n, "%s is not a valid Lease name (RFC 1123 subdomain)", v);
		return -1;
	}
	return set_string(&o->leader_election_id, v);
}

/*
 * A duration as Go's flag package spells the common ones: a whole number and
 * a unit, "500ms", "15s" or "1m". Stored in milliseconds.
 */
static int parse_duration(const char *v, int64_t *ms)
{
	char *end;
	long long x;

	errno = 0;
	x = strtoll(v, &end, 10);
	if (end == v || errno || x < 0 || x > 86400000LL)
		return -1;
	if (!strcmp(end, "ms"))
		*ms = x;
	else if (!strcmp(end, "s"))
		*ms = x * 1000;
	else if (!strcmp(end, "m"))
		*ms = x * 60000;
	else
		return -1;
	return 0;
}

static int set_duration(int64_t *dst, const char *v, int64_t min_ms, char *why, size_t n)
{
	if (parse_duration(v, dst) < 0 || *dst < min_ms) {
		snprintf(why, n, "%s is not a duration of at least %lldms (e.g. 15s, 500ms)", v,
			 (long long)min_ms);
		return -1;
	}
	return 0;
}

/* The Lease's duration goes on the wire in whole seconds. */
static int set_le_lease(struct options *o, const char *v, char *why, size_t n)
{
	if (set_duration(&o->lease_duration_ms, v, 1000, why, n) < 0)
		return -1;
	if (o->lease_duration_ms % 1000) {
		snprintf(why, n, "%s is not a whole number of seconds", v);
		return -1;
	}
	return 0;
}

static int set_le_renew(struct options *o, const char *v, char *why, size_t n)
{
	return set_duration(&o->renew_deadline_ms, v, 100, why, n);
}

static int set_le_retry(struct options *o, const char *v, char *why, size_t n)
{
	return set_duration(&o->retry_period_ms, v, 50, why, n);
}

static int check_address(const char *v, char *why, size_t n)
{
	struct sockaddr_storage sa;
	unsigned len;

	if (!strcmp(v, "0") || server_parse_address(v, &sa, &len) == 0)
		return 0;
	snprintf(why, n, "%s is not host:port (e.g. :8080 or 127.0.0.1:8080), or 0 to disable", v);
	return -1;
}

static int set_metrics_addr(struct options *o, const char *v, char *why, size_t n)
{
	if (check_address(v, why, n) < 0)
		return -1;
	return set_string(&o->metrics_bind_address, v);
}

static int set_metrics_auth(struct options *o, const char *v, char *why, size_t n)
{
	if (parse_bool(v, &o->metrics_auth) < 0) {
		snprintf(why, n, "%s is not a boolean (true or false)", v);
		return -1;
	}
	return 0;
}

static int set_health_addr(struct options *o, const char *v, char *why, size_t n)
{
	if (check_address(v, why, n) < 0)
		return -1;
	return set_string(&o->health_probe_bind_address, v);
}

static int set_concurrency(struct options *o, const char *v, char *why, size_t n)
{
	char *end;
	long c;

	errno = 0;
	c = strtol(v, &end, 10);
	if (!*v || *end || errno || c < 1 || c > 100) {
		snprintf(why, n, "%s is not a whole number from 1 to 100", v);
		return -1;
	}
	o->concurrency = (int)c;
	return 0;
}

static int set_log_level(struct options *o, const char *v, char *why, size_t n)
{
	if (base_log_parse_level(v, &o->log_level) < 0) {
		snprintf(why, n, "%s is not one of debug, info, warn, error", v);
		return -1;
	}
	return 0;
}

static int set_log_format(struct options *o, const char *v, char *why, size_t n)
{
	if (!strcmp(v, "json"))
		o->log_json = 1;
	else if (!strcmp(v, "text"))
		o->log_json = 0;
	else {
		snprintf(why, n, "%s is not json or text", v);
		return -1;
	}
	return 0;
}

static int set_help(struct options *o, const char *v, char *why, size_t n)
{
	if (parse_bool(v, &o->help) < 0) {
		snprintf(why, n, "%s is not a boolean", v);
		return -1;
	}
	return 0;
}

static int set_version(struct options *o, const char *v, char *why, size_t n)
{
	if (parse_bool(v, &o->version) < 0) {
		snprintf(why, n, "%s is not a boolean", v);
		return -1;
	}
	return 0;
}

/* The --allowed-* lists: comma-separated; validated by gdb_allow_set. */
static int set_allow(struct options *o, enum gdb_allow_kind kind, const char *v, char *why,
		     size_t n)
{
	return gdb_allow_set(&o->allow, kind, v, why, n) < 0 ? -1 : 0;
}

static int set_allowed_secrets(struct options *o, const char *v, char *why, size_t n)
{
	return set_allow(o, GDB_ALLOW_SECRETS, v, why, n);
}

static int set_allowed_probe_hosts(struct options *o, const char *v, char *why, size_t n)
{
	return set_allow(o, GDB_ALLOW_PROBE_HOSTS, v, why, n);
}

static int set_allowed_zones(struct options *o, const char *v, char *why, size_t n)
{
	return set_allow(o, GDB_ALLOW_ROUTE53_ZONES, v, why, n);
}

static int set_allowed_ssm(struct options *o, const char *v, char *why, size_t n)
{
	return set_allow(o, GDB_ALLOW_SSM_PREFIXES, v, why, n);
}

static int set_allowed_ecs(struct options *o, const char *v, char *why, size_t n)
{
	return set_allow(o, GDB_ALLOW_ECS_CLUSTERS, v, why, n);
}

static int set_region(struct options *o, const char *v, char *why, size_t n)
{
	if (*v && !gdb_valid_region_name(v)) {
		snprintf(why, n, "%s is not an AWS region name", v);
		return -1;
	}
	return set_string(&o->region, v);
}

/* Letters, digits, '-', '_' and '.': what a DynamoDB table name and a controller id may hold. */
static int name_chars(const char *v, size_t min, size_t max)
{
	size_t len = strlen(v);

	if (len < min || len > max)
		return 0;
	for (const char *p = v; *p; p++)
		if (!isalnum((unsigned char)*p) && *p != '-' && *p != '_' && *p != '.')
			return 0;
	return 1;
}

static int set_controller_id(struct options *o, const char *v, char *why, size_t n)
{
	if (*v && !name_chars(v, 1, 63)) {
		snprintf(why, n, "%s is not a controller id (1-63 letters, digits, '-', '_', '.')",
			 v);
		return -1;
	}
	return set_string(&o->controller_id, v);
}

static int set_guard_table(struct options *o, const char *v, char *why, size_t n)
{
	if (*v && !name_chars(v, 3, 255)) {
		snprintf(why, n, "%s is not a DynamoDB table name", v);
		return -1;
	}
	return set_string(&o->guard_table, v);
}

/* At least GDB_GUARD_LEASE_MIN_MS (docs/protocol.md, "A round of the holder", step 4). */
static int set_guard_lease(struct options *o, const char *v, char *why, size_t n)
{
	return set_duration(&o->guard_lease_duration_ms, v, GDB_GUARD_LEASE_MIN_MS, why, n);
}

static int set_guard_regions(struct options *o, const char *v, char *why, size_t n)
{
	char *copy = xstrdup(v), *p = copy, *item;
	int rc = 0;

	for (size_t i = 0; i < o->n_guard_regions; i++)
		free(o->guard_regions[i]);
	o->n_guard_regions = 0;
	while (*v && (item = strsep(&p, ",")) != NULL) {
		if (!gdb_valid_region_name(item)) {
			snprintf(why, n, "%s is not an AWS region name", item);
			rc = -1;
			break;
		}
		if (o->n_guard_regions == OPTIONS_MAX_GUARD_REGIONS) {
			snprintf(why, n, "at most %d regions", OPTIONS_MAX_GUARD_REGIONS);
			rc = -1;
			break;
		}
		o->guard_regions[o->n_guard_regions++] = xstrdup(item);
	}
	free(copy);
	return rc;
}

static const struct flag flags[] = {
	{"kubeconfig", STR, "", "path",
	 "kubeconfig file; empty: in-cluster config, else $KUBECONFIG, else ~/.kube/config",
	 set_kubeconfig},
	{"watch-namespace", STR, "", "name",
	 "watch GlobalDatabases, read Secrets and restart workloads in this namespace only "
	 "(RBAC: manifests/overlays/namespaced); empty: all namespaces",
	 set_namespace},
	{"namespace", STR, "", "name", "the old name of --watch-namespace", set_namespace},
	{"leader-elect", BOOL, "false", NULL,
	 "elect a leader with a Lease so that only one replica acts (run 2 replicas with it on)",
	 set_leader_elect},
	{"leader-election-namespace", STR, "", "name",
	 "namespace of the Lease; empty: $POD_NAMESPACE, else the pod's service account namespace",
	 set_le_namespace},
	{"leader-election-id", STR, "globaldb-controller.globaldb.io", "name", "name of the Lease",
	 set_le_id},
	{"leader-election-lease-duration", STR, "15s", "duration",
	 "how long a Lease holds after its last renewal: a standby waits this long after a leader "
	 "dies",
	 set_le_lease},
	{"leader-election-renew-deadline", STR, "10s", "duration",
	 "the leader stops acting if it could not renew for this long (less than the lease "
	 "duration)",
	 set_le_renew},
	{"leader-election-retry-period", STR, "2s", "duration",
	 "how often candidates try to acquire or renew the Lease", set_le_retry},
	{"metrics-bind-address", STR, ":8080", "host:port", "serve /metrics here; 0 disables",
	 set_metrics_addr},
	{"metrics-auth", BOOL, "false", NULL,
	 "serve /metrics only to bearer tokens the apiserver accepts (TokenReview) whose user may "
	 "get /metrics (SubjectAccessReview)",
	 set_metrics_auth},
	{"health-probe-bind-address", STR, ":8081", "host:port",
	 "serve /healthz and /readyz here; 0 disables", set_health_addr},
	{"concurrency", INT, "2", "n", "GlobalDatabases reconciled in parallel (1-100)",
	 set_concurrency},
	{"log-level", STR, "info", "level", "debug, info, warn or error", set_log_level},
	{"log-format", STR, "text", "format", "json (one object per line) or text", set_log_format},
	{"allowed-secrets", STR, "", "list",
	 "Secrets Manager secret ids (names or ARNs) specs may name; '*' ends a prefix, "
	 "{namespace} is the object's; empty: none",
	 set_allowed_secrets},
	{"allowed-probe-hosts", STR, "", "list",
	 "hosts a probeEndpoint may name (the probe user's password goes there); empty: none",
	 set_allowed_probe_hosts},
	{"allowed-route53-zones", STR, "", "list",
	 "Route 53 hosted zone ids specs may change records in; empty: none", set_allowed_zones},
	{"allowed-ssm-prefixes", STR, "", "list",
	 "SSM parameter paths specs may publish under (/a allows /a/x); empty: none",
	 set_allowed_ssm},
	{"allowed-ecs-clusters", STR, "", "list",
	 "ECS clusters (as specs write them) whose services specs may restart; empty: none",
	 set_allowed_ecs},
	{"region", STR, "", "region",
	 "this controller's AWS region; empty: the topology.kubernetes.io/region label of the Node "
	 "named by $NODE_NAME",
	 set_region},
	{"controller-id", STR, "", "id",
	 "this controller's name in the guard, unique per controller; empty: its region",
	 set_controller_id},
	{"guard-table", STR, "", "name",
	 "DynamoDB table (multi-Region strong consistency) through which controllers in several "
	 "regions make one decision; empty: this controller decides alone",
	 set_guard_table},
	{"guard-regions", STR, "", "list",
	 "the guard table's replica regions, nearest first (comma-separated)", set_guard_regions},
	{"guard-lease-duration", STR, "60s", "duration",
	 "how long the guard's lease holds after its holder's last renewal: a controller takes "
	 "over a dead holder's operation this long (plus 10s) after it died",
	 set_guard_lease},
	{"help", BOOL, "false", NULL, "print this help and exit", set_help},
	{"version", BOOL, "false", NULL, "print the version and exit", set_version},
};

/* GLOBALDB_ + upper-cased name with '-' as '_'. */
static void env_name(const struct flag *f, char *out, size_t n)
{
	size_t i = (size_t)snprintf(out, n, "GLOBALDB_");

	for (const char *p = f->name; *p && i + 1 < n; p++)
		out[i++] = *p == '-' ? '_' : (char)toupper((unsigned char)*p);
	out[i] = '\0';
}

void options_usage(FILE *out)
{
	char env[64], left[64];

	fprintf(out,
		"Usage: globaldb-controller [flags]\n\n"
		"Keeps Aurora PostgreSQL Global Databases, declared as GlobalDatabase resources\n"
		"(globaldb.io/v1alpha1), writing in the region their owners want.\n\n"
		"Flags (each also set by the environment variable shown; a flag wins):\n");
	for (size_t i = 0; i < ARRAY_SIZE(flags); i++) {
		const struct flag *f = &flags[i];

		env_name(f, env, sizeof(env));
		if (f->arg)
			snprintf(left, sizeof(left), "--%s=%s", f->name, f->arg);
		else
			snprintf(left, sizeof(left), "--%s", f->name);
		fprintf(out, "  %-40s %s\n", left, f->help);
		if (strcmp(f->name, "help") && strcmp(f->name, "version"))
			fprintf(out, "  %-40s %s%s%s%s\n", "", "env ", env,
				*f->def ? ", default " : "", f->def);
	}
	fprintf(out, "\nExit status: 0 after a clean shutdown (SIGTERM or SIGINT), 1 on a runtime\n"
		     "failure or a second signal, 2 on a usage error.\n");
}

static const struct flag *find_flag(const char *name, size_t len)
{
	for (size_t i = 0; i < ARRAY_SIZE(flags); i++)
		if (strlen(flags[i].name) == len && !strncmp(flags[i].name, name, len))
			return &flags[i];
	return NULL;
}

static void set_defaults(struct options *o)
{
	char why[256];

	memset(o, 0, sizeof(*o));
	for (size_t i = 0; i < ARRAY_SIZE(flags); i++)
		if (flags[i].set(o, flags[i].def, why, sizeof(why)) < 0)
			BUG("default of --%s is invalid: %s", flags[i].name, why);
}

/* Reads the namespace the pod runs in from its service account, or NULL. */
static char *pod_namespace(void)
{
	const char *env = getenv("POD_NAMESPACE");
	char line[DNS1123_LABEL_MAX + 2];
	FILE *f;

	if (env && *env)
		return xstrdup(env);
	f = fopen(SA_NAMESPACE_FILE, "re");
	if (!f)
		return NULL;
	if (!fgets(line, sizeof(line), f)) {
		fclose(f);
		return NULL;
	}
	fclose(f);
	line[strcspn(line, "\r\n")] = '\0';
	return *line ? xstrdup(line) : NULL;
}

/*
 * --namespace is the old name of --watch-namespace: one given on the command
 * line keeps both variables from overriding it, and of the two variables
 * GLOBALDB_WATCH_NAMESPACE wins.
 */
static void link_aliases(unsigned char *seen)
{
	const struct flag *a = find_flag("watch-namespace", 15), *b = find_flag("namespace", 9);

	if (seen[a - flags] || seen[b - flags])
		seen[a - flags] = seen[b - flags] = 1;
	else if (getenv("GLOBALDB_WATCH_NAMESPACE"))
		seen[b - flags] = 1;
}

int options_parse(struct options *o, int argc, char **argv, FILE *err)
{
	unsigned char seen[ARRAY_SIZE(flags)] = {0};
	char why[512], env[64];
	int i;

	set_defaults(o);
	for (i = 1; i < argc; i++) {
		const char *arg = argv[i], *name, *eq, *value;
		const struct flag *f;
		size_t len;

		if (!strcmp(arg, "--")) {
			i++;
			break;
		}
		if (arg[0] != '-' || !strcmp(arg, "-"))
			break;
		name = arg + (arg[1] == '-' ? 2 : 1);
		eq = strchr(name, '=');
		len = eq ? (size_t)(eq - name) : strlen(name);
		f = find_flag(name, len);
		if (!f && len == 1 && name[0] == 'h')
			f = find_flag("help", 4);
		if (!f) {
			fprintf(err, "globaldb-controller: unknown flag: -%s%.*s\n",
				arg[1] == '-' ? "-" : "", (int)len, name);
			goto usage;
		}
		if (eq)
			value = eq + 1;
		else if (f->kind == BOOL)
			value = "true";
		else if (i + 1 < argc)
			value = argv[++i];
		else {
			fprintf(err, "globaldb-controller: flag needs an argument: --%s\n",
				f->name);
			goto usage;
		}
		if (f->set(o, value, why, sizeof(why)) < 0) {
			fprintf(err, "globaldb-controller: invalid value for --%s: %s\n", f->name,
				why);
			goto usage;
		}
		seen[f - flags] = 1;
	}
	if (i < argc) {
		fprintf(err, "globaldb-controller: unexpected argument: %s\n", argv[i]);
		goto usage;
	}
	if (o->help || o->version)
		return 0;
	link_aliases(seen);

	for (size_t k = 0; k < ARRAY_SIZE(flags); k++) {
		const char *v;

		env_name(&flags[k], env, sizeof(env));
		if (seen[k] || !(v = getenv(env)) || !strcmp(flags[k].name, "help") ||
		    !strcmp(flags[k].name, "version"))
			continue;
		if (flags[k].set(o, v, why, sizeof(why)) < 0) {
			fprintf(err, "globaldb-controller: invalid value for %s (--%s): %s\n", env,
				flags[k].name, why);
			goto usage;
		}
	}

	/* client-go's rule: lease > renew deadline > 1.2 x retry period. */
	if (o->lease_duration_ms <= o->renew_deadline_ms ||
	    o->renew_deadline_ms * 10 <= o->retry_period_ms * 12) {
		fprintf(err,
			"globaldb-controller: leader election needs lease duration > renew "
			"deadline "
			"> 1.2 x retry period (got %lldms, %lldms, %lldms)\n",
			(long long)o->lease_duration_ms, (long long)o->renew_deadline_ms,
			(long long)o->retry_period_ms);
		goto usage;
	}
	if (*o->guard_table && o->n_guard_regions == 0) {
		fprintf(err, "globaldb-controller: --guard-table needs --guard-regions\n");
		goto usage;
	}
	if (o->leader_elect && !*o->leader_election_namespace) {
		char *ns = pod_namespace();

		if (!ns || !dns_label(ns)) {
			free(ns);
			fprintf(err, "globaldb-controller: --leader-elect needs "
				     "--leader-election-namespace "
				     "when not running in a pod (no POD_NAMESPACE, no service "
				     "account)\n");
			goto usage;
		}
		free(o->leader_election_namespace);
		o->leader_election_namespace = ns;
	}
	return 0;
usage:
	fprintf(err, "Run 'globaldb-controller --help' for usage.\n");
	return OPTIONS_USAGE_ERROR;
}

void options_release(struct options *o)
{
	free(o->kubeconfig);
	free(o->namespace);
	free(o->leader_election_namespace);
	free(o->leader_election_id);
	free(o->metrics_bind_address);
	free(o->health_probe_bind_address);
	gdb_allow_release(&o->allow);
	free(o->region);
	free(o->controller_id);
	free(o->guard_table);
	for (size_t i = 0; i < o->n_guard_regions; i++)
		free(o->guard_regions[i]);
	memset(o, 0, sizeof(*o));
}
