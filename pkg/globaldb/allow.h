/*
 * allow.h - what a GlobalDatabase may name: the controller's allowlists.
 *
 * Whoever may create a GlobalDatabase borrows the controller's IAM role and
 * its Kubernetes rights. Without limits a spec could name any Secrets Manager
 * secret and send its password to a probeEndpoint of its choice, repoint
 * records of any Route 53 zone or any SSM parameter at its own database,
 * force deployments of any ECS service, and restart workloads in any
 * namespace. This module says which of those names a spec may use.
 *
 * The operator sets one list per kind with a flag (docs/api.md "Allowlists"):
 *
 *   --allowed-secrets        healthCheck.awsSecretsManagerSecretId
 *   --allowed-probe-hosts    regions[].probeEndpoint.host
 *   --allowed-route53-zones  dns.hostedZoneId
 *   --allowed-ssm-prefixes   ssmParameterPrefix
 *   --allowed-ecs-clusters   workloads.ecsServices[].cluster
 *
 * Every list is default-deny: empty (the default) allows nothing, so a spec
 * that uses the field is refused until the operator lists what it may name.
 * An entry is matched as written, "*" matches anything, an entry ending in
 * "*" matches by prefix, and "{namespace}" in an entry stands for the
 * object's own namespace (--allowed-ssm-prefixes=/globaldb/{namespace}/
 * gives each namespace its own subtree). SSM prefixes match by path: the
 * entry /globaldb/a allows /globaldb/a and /globaldb/a/x, not /globaldb/ab.
 * Probe hosts compare case-insensitively.
 *
 * Deployments and StatefulSets in the object's own namespace may always be
 * restarted. One in another namespace only when that Namespace opts in with
 * the annotation globaldb.io/allow-restarts-from, a comma-separated list of
 * the namespaces whose GlobalDatabases may restart its workloads ("*": any).
 * A missing namespace and one without the annotation are refused alike, so a
 * refusal does not tell whether the namespace exists.
 *
 * gdb_allow_check() is pure: the caller passes in the annotation of each
 * other namespace the spec names (gdb_allow_read_namespaces). The rules are
 * checked in a fixed order with the workload rule last, so a caller may check
 * once without the namespaces and read them only when the answer is
 * RestartNotAllowed. A refused spec is refused whole, before any call: no AWS
 * call, no Secret read, no probe (the reconciler's contract).
 *
 * Ownership: struct gdb_allow owns its entries (gdb_allow_release frees
 * them). After set-up it is read-only and may be shared by threads.
 */
#ifndef GDB_ALLOW_H
#define GDB_ALLOW_H

#include <stddef.h>

#include "pkg/globaldb/types.h"

#define GDB_ANNOTATION_ALLOW_RESTARTS_FROM "globaldb.io/allow-restarts-from"
/* Entries per list, and the longest entry. */
#define GDB_ALLOW_MAX_ENTRIES 64
#define GDB_ALLOW_MAX_ENTRY 512

enum gdb_allow_kind {
	GDB_ALLOW_SECRETS = 0,
	GDB_ALLOW_PROBE_HOSTS,
	GDB_ALLOW_ROUTE53_ZONES,
	GDB_ALLOW_SSM_PREFIXES,
	GDB_ALLOW_ECS_CLUSTERS,
	GDB_ALLOW__COUNT
};

struct gdb_allow {
	char *entries[GDB_ALLOW__COUNT][GDB_ALLOW_MAX_ENTRIES];
	size_t n[GDB_ALLOW__COUNT];
};

/* The flag that sets a kind's list, without dashes ("allowed-secrets"). */
const char *gdb_allow_flag(enum gdb_allow_kind kind);

/*
 * Replaces the list of kind by the comma-separated entries of csv (spaces
 * around an entry are ignored; "" empties the list). 0, or BASE_EINVAL with
 * the reason in err (the list is then left empty): an empty entry, a control
 * character or space inside one, a '*' anywhere but at the end, an entry over
 * GDB_ALLOW_MAX_ENTRY bytes, more than GDB_ALLOW_MAX_ENTRIES entries.
 */
int gdb_allow_set(struct gdb_allow *a, enum gdb_allow_kind kind, const char *csv, char *err,
		  size_t errlen);
/* Frees every entry and leaves *a empty (deny all). NULL is fine. */
void gdb_allow_release(struct gdb_allow *a);

/* What a Namespace other than the object's said (gdb_allow_read_namespaces fills these). */
struct gdb_ns_optin {
	char *name;
	/* The annotation globaldb.io/allow-restarts-from; NULL when absent or no such namespace. */
	char *allow_from;
};

/*
 * The namespaces other than ns that spec's deployments and statefulSets
 * name, each once, into out (up to max); returns how many. Borrowed from spec.
 */
size_t gdb_allow_foreign_namespaces(const struct gdb_spec *spec, const char *ns, const char **out,
				    size_t max);

/*
 * Whether the object ns/<name> with this spec may be acted on. policy NULL
 * allows nothing (as an empty policy). optins are the answers for
 * gdb_allow_foreign_namespaces (a namespace not among them is refused).
 * Returns NULL when allowed; else the refusal's condition reason
 * (SecretNotAllowed, ProbeEndpointNotAllowed, Route53ZoneNotAllowed,
 * SsmPrefixNotAllowed, EcsClusterNotAllowed, RestartNotAllowed; static) with
 * a message naming the field, the value and the flag or annotation to change
 * in msg. Pure and thread-safe.
 */
const char *gdb_allow_check(const struct gdb_allow *policy, const char *ns,
			    const struct gdb_spec *spec, const struct gdb_ns_optin *optins,
			    size_t n_optins, char *msg, size_t msglen);

/*
 * Reads the allow-restarts-from annotation of each foreign namespace of spec
 * (gdb_allow_foreign_namespaces) into *out (caller frees with
 * gdb_allow_optins_free), *n set. A namespace that does not exist yields
 * allow_from NULL. 0, or the kube error of a read that failed otherwise
 * (nothing is returned then). kube is a struct kube_client *. Lives in
 * allow_read.c (the gdb_globaldb library, which may do I/O).
 */
struct kube_client;
int gdb_allow_read_namespaces(struct kube_client *kube, const struct gdb_spec *spec, const char *ns,
			      struct gdb_ns_optin **out, size_t *n);
void gdb_allow_optins_free(struct gdb_ns_optin *optins, size_t n);

#endif
