/*
 * kubectl-globaldb - the `kubectl globaldb` plugin: read and steer a
 * GlobalDatabase the way an on-call engineer does, without editing YAML.
 *
 * Every verb is one GET of the object, perhaps one list of its Events, and
 * at most one PATCH. Writes are JSON merge patches made under the field
 * manager "kubectl-globaldb" and made conditional on the resourceVersion the
 * plugin read, so an approval or a switchover applies to the state the
 * plugin checked and printed, never to a newer one (a 409 reads again and
 * re-checks). The plugin never writes status and never calls AWS: it changes
 * only what docs/api.md lets people change, spec.primaryRegion and the
 * globaldb.io annotations; the controller does the rest.
 *
 * kubectl finds this binary on PATH as `kubectl-globaldb` and runs it with
 * the arguments after `globaldb`. Flags follow kubectl's names (-n,
 * --namespace, --kubeconfig, --context), anywhere on the line.
 */
#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <string.h>

#include "cmd/kubectl-globaldb/format.h"
#include "pkg/base/alloc.h"
#include "pkg/base/err.h"
#include "pkg/base/timeutil.h"
#include "pkg/globaldb/types.h"
#include "pkg/kube/config.h"
#include "pkg/kube/rest.h"

static const struct kube_resource res_gdb = {"globaldb.io", "v1alpha1", "globaldatabases", 1};

#define WRITE_TRIES 5
#define WAIT_POLL_MS 2000

static const char usage[] =
	"kubectl globaldb - read and steer GlobalDatabases (globaldb.io/v1alpha1)\n"
	"\n"
	"Usage:\n"
	"  kubectl globaldb status NAME             regions, roles, lag against the budget, "
	"health,\n"
	"                                           the operation in flight, the last operation\n"
	"  kubectl globaldb history NAME            the object's Events, oldest first, and the\n"
	"                                           last operation\n"
	"  kubectl globaldb switchover NAME --to REGION [--wait[=DURATION]]\n"
	"                                           set spec.primaryRegion (a planned "
	"switchover);\n"
	"                                           warns when a GitOps tool owns that field\n"
	"  kubectl globaldb approve-failover NAME   approve the failover awaiting approval\n"
	"  kubectl globaldb approve-fallback NAME   approve the fallback awaiting approval\n"
	"  kubectl globaldb pause NAME              no AWS calls; an operation in flight holds\n"
	"  kubectl globaldb resume NAME             remove the pause\n"
	"\n"
	"Flags:\n"
	"  -n, --namespace NS   the object's namespace (default: the context's, else default)\n"
	"      --kubeconfig F   kubeconfig file (default: $KUBECONFIG, else ~/.kube/config)\n"
	"      --context C      kubeconfig context (default: the current context)\n"
	"      --to REGION      switchover: the region the writer should move to\n"
	"      --wait[=D]       switchover: wait until it finished (default 10m; e.g. 90s, 15m)\n"
	"  -h, --help           this text\n"
	"      --version        the plugin's version\n"
	"\n"
	"Exit codes:\n"
	"  0  done\n"
	"  1  error: the object or the apiserver could not be read or written\n"
	"  2  usage: unknown verb or flag, missing argument\n"
	"  3  refused: the action does not apply now (nothing awaits approval, the region is\n"
	"     not in spec.regions); nothing was written\n"
	"  4  switchover --wait: the switchover ended Failed or Cancelled, or the wait timed out\n"
	"\n"
	"Approvals write the current time (RFC 3339) to globaldb.io/approve-failover or\n"
	"globaldb.io/approve-fallback: an approval counts only for a recommendation made before\n"
	"it, so each one is used once. See docs/api.md, \"Annotations\".\n";

struct opts {
	const char *verb, *name, *ns, *kubeconfig, *context, *to;
	int64_t wait_ms; /* 0 = do not wait */
};

static int usage_error(const char *fmt, const char *arg)
{
	fprintf(stderr, "error: ");
	fprintf(stderr, fmt, arg);
	fprintf(stderr, "\nSee 'kubectl globaldb --help'.\n");
	return KGDB_EXIT_USAGE;
}

/* "90s", "15m", "1h", or seconds; 0 or -1. */
static int parse_duration(const char *s, int64_t *ms)
{
	char *end;
	long long v;

	errno = 0;
	v = strtoll(s, &end, 10);
	if (errno || end == s || v <= 0 || v > 86400)
		return -1;
	if (*end == '\0' || strcmp(end, "s") == 0)
		*ms = v * 1000;
	else if (strcmp(end, "m") == 0)
		*ms = v * 60000;
	else if (strcmp(end, "h") == 0)
		*ms = v * 3600000;
	else
		return -1;
	return 0;
}

/* A flag's value: "--flag=v", "-nv" or the next argument. */
static const char *flag_value(int argc, char **argv, int *i, const char *arg, size_t flen)
{
	if (arg[flen] == '=')
		return arg + flen + 1;
	if (arg[flen] != '\0' && flen == 2) /* -nNAMESPACE */
		return arg + flen;
	if (*i + 1 < argc)
		return argv[++*i];
	return NULL;
}

static int parse_args(int argc, char **argv, struct opts *o)
{
	for (int i = 1; i < argc; i++) {
		const char *a = argv[i], **slot = NULL;
		size_t flen = 0;

		if (strcmp(a, "-h") == 0 || strcmp(a, "--help") == 0 ||
		    (!o->verb && strcmp(a, "help") == 0)) {
			fputs(usage, stdout);
			exit(KGDB_EXIT_OK);
		}
		if (strcmp(a, "--version") == 0) {
			printf("kubectl-globaldb %s\n", GDB_VERSION);
			exit(KGDB_EXIT_OK);
		}
		if (strncmp(a, "--namespace", 11) == 0 && (a[11] == '\0' || a[11] == '='))
			slot = &o->ns, flen = 11;
		else if (strncmp(a, "-n", 2) == 0 && a[1] == 'n')
			slot = &o->ns, flen = 2;
		else if (strncmp(a, "--kubeconfig", 12) == 0 && (a[12] == '\0' || a[12] == '='))
			slot = &o->kubeconfig, flen = 12;
		else if (strncmp(a, "--context", 9) == 0 && (a[9] == '\0' || a[9] == '='))
			slot = &o->context, flen = 9;
		else if (strncmp(a, "--to", 4) == 0 && (a[4] == '\0' || a[4] == '='))
			slot = &o->to, flen = 4;
		if (slot) {
			if (!(*slot = flag_value(argc, argv, &i, a, flen)) || !**slot)
				return usage_error("flag %s needs a value", a);
			continue;
		}
		if (strcmp(a, "--wait") == 0) {
			o->wait_ms = 600000;
			continue;
		}
		if (strncmp(a, "--wait=", 7) == 0) {
			if (parse_duration(a + 7, &o->wait_ms) < 0)
				return usage_error(
					"--wait wants a duration such as 90s or 15m, not %s",
					a + 7);
			continue;
		}
		if (a[0] == '-')
			return usage_error("unknown flag %s", a);
		if (!o->verb)
			o->verb = a;
		else if (!o->name)
			o->name = a;
		else
			return usage_error("unexpected argument %s", a);
	}
	if (!o->verb) {
		fputs(usage, stderr);
		return KGDB_EXIT_USAGE;
	}
	if (!o->name)
		return usage_error("%s needs the name of a GlobalDatabase", o->verb);
	if (!o->to && strcmp(o->verb, "switchover") == 0)
		return usage_error("switchover needs --to REGION%s", "");
	if (o->to && strcmp(o->verb, "switchover") != 0)
		return usage_error("--to is for switchover, not %s", o->verb);
	if (o->wait_ms && strcmp(o->verb, "switchover") != 0)
		return usage_error("--wait is for switchover, not %s", o->verb);
	return 0;
}

static void api_error(const char *what, const struct opts *o, int rc, const struct kube_status *st)
{
	if (rc == BASE_ENOTFOUND && st->code == 404 && strstr(what, "read"))
		fprintf(stderr, "error: globaldatabase %s not found in namespace %s\n", o->name,
			o->ns);
	else
		fprintf(stderr, "error: %s %s/%s: %s%s%s\n", what, o->ns, o->name,
			st->message[0] ? st->message : base_strerror(rc),
			rc == BASE_EFORBIDDEN
				? " (your RBAC role needs this verb on globaldatabases)"
				: "",
			rc == BASE_ENOTFOUND && st->code == 404 && !strstr(what, "read")
				? " (is the GlobalDatabase CRD installed?)"
				: "");
}

static int get_object(struct kube_client *c, const struct opts *o, json_t **obj)
{
	struct kube_status st = {0};
	int rc = kube_get(c, &res_gdb, o->ns, o->name, obj, &st);

	if (rc < 0) {
		api_error("cannot read globaldatabase", o, rc, &st);
		return KGDB_EXIT_ERROR;
	}
	return 0;
}

/*
 * Merges patch into the object read as rv (a 409 when it changed since). 0,
 * 1 on a conflict (read again and re-check), or KGDB_EXIT_ERROR.
 */
static int write_patch(struct kube_client *c, const struct opts *o, const char *rv, json_t *patch)
{
	struct kube_patch_opts po = {.type = KUBE_PATCH_MERGE, .field_manager = KGDB_FIELD_MANAGER};
	struct kube_status st = {0};
	int rc;

	json_object_set_new(json_object_get(patch, "metadata"), "resourceVersion",
			    json_string(rv ? rv : ""));
	rc = kube_patch(c, &res_gdb, o->ns, o->name, &po, patch, NULL, &st);
	if (rc == BASE_ECONFLICT)
		return 1;
	if (rc < 0) {
		api_error("cannot patch globaldatabase", o, rc, &st);
		return KGDB_EXIT_ERROR;
	}
	return 0;
}

static const char *rv_of(const json_t *obj)
{
	return json_string_value(
		json_object_get(json_object_get(obj, "metadata"), "resourceVersion"));
}

static int cmd_status(struct kube_client *c, const struct opts *o)
{
	struct base_buf out = BASE_BUF_INIT(0);
	json_t *obj = NULL;
	int rc = get_object(c, o, &obj);

	if (rc)
		return rc;
	rc = kgdb_format_status(&out, obj, base_now_real_ms()) < 0 ? KGDB_EXIT_ERROR : 0;
	fputs(out.data, rc ? stderr : stdout);
	base_buf_release(&out);
	json_decref(obj);
	return rc;
}

static int cmd_history(struct kube_client *c, const struct opts *o)
{
	static const struct kube_resource res_events = {"events.k8s.io", "v1", "events", 1};
	struct kube_list_opts lo = {.field_selector = NULL};
	struct base_buf out = BASE_BUF_INIT(0), sel = BASE_BUF_INIT(0);
	struct kube_status st = {0};
	json_t *obj = NULL, *list = NULL;
	int rc = get_object(c, o, &obj);

	if (rc)
		return rc;
	base_buf_addf(&sel, "regarding.name=%s", o->name);
	lo.field_selector = sel.data;
	rc = kube_list_all(c, &res_events, o->ns, &lo, &list, &st);
	if (rc < 0) {
		fprintf(stderr, "error: cannot list the Events in namespace %s: %s\n", o->ns,
			st.message[0] ? st.message : base_strerror(rc));
		rc = KGDB_EXIT_ERROR;
		goto out;
	}
	kgdb_format_history(&out, obj, json_object_get(list, "items"), base_now_real_ms());
	fputs(out.data, stdout);
	rc = 0;
out:
	base_buf_release(&out);
	base_buf_release(&sel);
	json_decref(list);
	json_decref(obj);
	return rc;
}

static int cmd_annotate(struct kube_client *c, const struct opts *o, const char *key,
			const char *approve_type)
{
	int rc = KGDB_EXIT_ERROR;

	for (int tries = 0; tries < WRITE_TRIES; tries++) {
		char value[48] = "", why[256];
		json_t *obj = NULL, *patch;

		if ((rc = get_object(c, o, &obj)))
			return rc;
		if (approve_type) {
			rc = kgdb_approval_value(obj, approve_type, base_now_real_ms(), value,
						 sizeof(value), why, sizeof(why));
			if (rc) {
				fprintf(stderr, "refused: %s/%s: %s; nothing written\n", o->ns,
					o->name, why);
				json_decref(obj);
				return rc;
			}
		}
		if (strcmp(o->verb, "resume") == 0)
			patch = json_pack("{s:{s:{s:n}}}", "metadata", "annotations", key);
		else
			patch = json_pack("{s:{s:{s:s}}}", "metadata", "annotations", key,
					  approve_type ? value : "true");
		rc = write_patch(c, o, rv_of(obj), patch);
		json_decref(patch);
		if (rc == 0) {
			const char *target = json_string_value(json_object_get(
				json_object_get(json_object_get(obj, "status"), "operation"),
				"targetRegion"));

			if (approve_type)
				printf("globaldatabase %s/%s: %s to %s approved (%s=%s)\n", o->ns,
				       o->name, approve_type, target ? target : "-", key, value);
			else if (strcmp(o->verb, "pause") == 0)
				printf("globaldatabase %s/%s paused: the controller makes no AWS "
				       "calls "
				       "and holds any operation in flight at its step; it still "
				       "updates status\n",
				       o->ns, o->name);
			else
				printf("globaldatabase %s/%s resumed: failures seen during the "
				       "pause "
				       "are not acted on for one detection window\n",
				       o->ns, o->name);
		}
		json_decref(obj);
		if (rc != 1)
			return rc;
	}
	fprintf(stderr, "error: %s/%s kept changing while it was written; try again\n", o->ns,
		o->name);
	return KGDB_EXIT_ERROR;
}

/* The highest operation id in status, before a switchover is asked for. */
static int64_t op_mark(const json_t *obj)
{
	const json_t *st = json_object_get(obj, "status");
	int64_t a = json_integer_value(json_object_get(json_object_get(st, "operation"), "id"));
	int64_t b = json_integer_value(json_object_get(json_object_get(st, "lastOperation"), "id"));

	return a > b ? a : b;
}

/*
 * The writer is in region, nothing is in flight, and the controller has seen
 * the spec that asks for it: a switchover asked for while the writer was
 * already there (or already finished) has nothing left to wait for.
 */
static int settled_in(const json_t *obj, const char *region)
{
	const json_t *st = json_object_get(obj, "status");
	const char *cur = json_string_value(json_object_get(st, "currentPrimaryRegion"));
	json_int_t gen =
		json_integer_value(json_object_get(json_object_get(obj, "metadata"), "generation"));

	return cur && strcmp(cur, region) == 0 &&
	       !json_is_object(json_object_get(st, "operation")) &&
	       json_integer_value(json_object_get(st, "observedGeneration")) >= gen;
}

static int wait_switchover(struct kube_client *c, const struct opts *o, int64_t mark)
{
	int64_t deadline = base_now_mono_ms() + o->wait_ms;

	printf("waiting up to %" PRId64 "s for the switchover to finish...\n", o->wait_ms / 1000);
	fflush(stdout);
	for (;;) {
		json_t *obj = NULL, *last;
		const char *type, *result;
		int rc = get_object(c, o, &obj);

		if (rc)
			return rc;
		last = json_object_get(json_object_get(obj, "status"), "lastOperation");
		type = json_string_value(json_object_get(last, "type"));
		result = json_string_value(json_object_get(last, "result"));
		if (type && strcmp(type, "Switchover") == 0 && result &&
		    json_integer_value(json_object_get(last, "id")) > mark) {
			int ok = strcmp(result, "Succeeded") == 0;

			printf("switchover %s: writer in %s\n", result,
			       json_string_value(json_object_get(json_object_get(obj, "status"),
								 "currentPrimaryRegion"))
				       ?: "-");
			json_decref(obj);
			return ok ? 0 : KGDB_EXIT_FAILED;
		}
		if (settled_in(obj, o->to)) {
			printf("writer in %s; no operation in flight\n", o->to);
			json_decref(obj);
			return 0;
		}
		json_decref(obj);
		if (base_now_mono_ms() >= deadline) {
			fprintf(stderr,
				"error: the switchover did not finish within %" PRId64
				"s; see `kubectl globaldb status %s`\n",
				o->wait_ms / 1000, o->name);
			return KGDB_EXIT_FAILED;
		}
		base_sleep_ms(WAIT_POLL_MS);
	}
}

static int in_spec_regions(const json_t *obj, const char *region)
{
	const json_t *regions = json_object_get(json_object_get(obj, "spec"), "regions");

	for (size_t i = 0; i < json_array_size(regions); i++) {
		const char *n =
			json_string_value(json_object_get(json_array_get(regions, i), "name"));

		if (n && strcmp(n, region) == 0)
			return 1;
	}
	return 0;
}

static int cmd_switchover(struct kube_client *c, const struct opts *o)
{
	int rc = KGDB_EXIT_ERROR;

	for (int tries = 0; tries < WRITE_TRIES; tries++) {
		const char *gitops, *owner, *from;
		json_t *obj = NULL, *patch;
		int64_t mark;

		if ((rc = get_object(c, o, &obj)))
			return rc;
		from = json_string_value(
			json_object_get(json_object_get(obj, "spec"), "primaryRegion"));
		if (!in_spec_regions(obj, o->to)) {
			fprintf(stderr,
				"refused: %s is not one of spec.regions of %s/%s; nothing "
				"written\n",
				o->to, o->ns, o->name);
			json_decref(obj);
			return KGDB_EXIT_REFUSED;
		}
		mark = op_mark(obj);
		if (from && strcmp(from, o->to) == 0) {
			printf("globaldatabase %s/%s: spec.primaryRegion is already %s\n", o->ns,
			       o->name, o->to);
			json_decref(obj);
			return o->wait_ms ? wait_switchover(c, o, mark) : 0;
		}
		owner = kgdb_primary_region_owner(obj, &gitops);
		if (owner && gitops)
			fprintf(stderr,
				"warning: spec.primaryRegion is managed by %s (field manager "
				"\"%s\"): "
				"its next sync sets it back to what Git says and the writer moves "
				"back. Change primaryRegion in Git instead, or pause its sync.\n",
				gitops, owner);
		else if (owner)
			fprintf(stderr,
				"warning: spec.primaryRegion was set by field manager \"%s\": if "
				"that "
				"manifest is applied again, it sets the region back. Change it "
				"there "
				"too.\n",
				owner);
		patch = json_pack("{s:{}, s:{s:s}}", "metadata", "spec", "primaryRegion", o->to);
		rc = write_patch(c, o, rv_of(obj), patch);
		json_decref(patch);
		if (rc == 0)
			printf("globaldatabase %s/%s: spec.primaryRegion %s -> %s; the controller "
			       "switches over once the global cluster is healthy (kubectl globaldb "
			       "status %s)\n",
			       o->ns, o->name, from ? from : "-", o->to, o->name);
		json_decref(obj); /* from points into obj */
		if (rc == 1)
			continue;
		if (rc)
			return rc;
		return o->wait_ms ? wait_switchover(c, o, mark) : 0;
	}
	fprintf(stderr, "error: %s/%s kept changing while it was written; try again\n", o->ns,
		o->name);
	return KGDB_EXIT_ERROR;
}

int main(int argc, char **argv)
{
	struct kube_client_opts copts = {.user_agent = "kubectl-globaldb/" GDB_VERSION};
	struct opts o = {0};
	struct kube_config *cfg = NULL;
	struct kube_client *c = NULL;
	char *errmsg = NULL;
	int rc = parse_args(argc, argv, &o);

	if (rc)
		return rc;
	if (strcmp(o.verb, "status") && strcmp(o.verb, "history") && strcmp(o.verb, "switchover") &&
	    strcmp(o.verb, "approve-failover") && strcmp(o.verb, "approve-fallback") &&
	    strcmp(o.verb, "pause") && strcmp(o.verb, "resume"))
		return usage_error("unknown verb %s", o.verb);
	if (kube_config_load_kubeconfig(o.kubeconfig, o.context, &cfg, &errmsg) < 0) {
		fprintf(stderr, "error: %s\n", errmsg ? errmsg : "cannot load the kubeconfig");
		free(errmsg);
		return KGDB_EXIT_ERROR;
	}
	if (kube_config_warning(cfg))
		fprintf(stderr, "warning: %s\n", kube_config_warning(cfg));
	if (!o.ns)
		o.ns = kube_config_namespace(cfg) ? kube_config_namespace(cfg) : "default";
	if (kube_client_new(cfg, &copts, &c) < 0) {
		fprintf(stderr, "error: cannot create the Kubernetes client\n");
		return KGDB_EXIT_ERROR;
	}
	/* o.ns may point into cfg, which the client now owns: it lives until kube_client_free. */
	if (strcmp(o.verb, "status") == 0)
		rc = cmd_status(c, &o);
	else if (strcmp(o.verb, "history") == 0)
		rc = cmd_history(c, &o);
	else if (strcmp(o.verb, "switchover") == 0)
		rc = cmd_switchover(c, &o);
	else if (strcmp(o.verb, "approve-failover") == 0)
		rc = cmd_annotate(c, &o, GDB_ANNOTATION_APPROVE_FAILOVER, "Failover");
	else if (strcmp(o.verb, "approve-fallback") == 0)
		rc = cmd_annotate(c, &o, GDB_ANNOTATION_APPROVE_FALLBACK, "Fallback");
	else if (strcmp(o.verb, "pause") == 0)
		rc = cmd_annotate(c, &o, GDB_ANNOTATION_PAUSED, NULL);
	else
		rc = cmd_annotate(c, &o, GDB_ANNOTATION_PAUSED, NULL);
	kube_client_free(c);
	return rc;
}
