/*
 * options.h - the controller's command line and environment.
 *
 * Every flag has an environment variable: GLOBALDB_ and the flag's name in
 * upper case with '-' as '_' (--metrics-bind-address is
 * GLOBALDB_METRICS_BIND_ADDRESS). A flag on the command line wins over its
 * variable, which wins over the default. Flags are spelled as Go's flag
 * package spells them: "--name value", "--name=value", one or two dashes,
 * booleans as "--flag" or "--flag=true|false"; no abbreviations.
 */
#ifndef GDB_CMD_OPTIONS_H
#define GDB_CMD_OPTIONS_H

#include <stdint.h>
#include <stdio.h>

#include "pkg/base/log.h"
#include "pkg/globaldb/allow.h"

#define OPTIONS_MAX_GUARD_REGIONS 6

struct options {
	char *kubeconfig; /* "" = in-cluster config, then $KUBECONFIG, ~/.kube/config */
	char *namespace;  /* --watch-namespace (or --namespace); "" = every namespace */
	int leader_elect;
	char *leader_election_namespace; /* resolved: never "" when leader_elect */
	char *leader_election_id;
	int64_t lease_duration_ms; /* the Lease's timing (client-go's names) */
	int64_t renew_deadline_ms;
	int64_t retry_period_ms;
	char *metrics_bind_address;	 /* "0" = no metrics server */
	int metrics_auth;		 /* TokenReview + SubjectAccessReview on /metrics */
	char *health_probe_bind_address; /* "0" = no probe server */
	int concurrency;
	enum base_log_level log_level;
	int log_json;
	int help;
	int version;
	struct gdb_allow allow; /* the --allowed-* lists (pkg/globaldb/allow.h) */
	/* The two-controller guard (docs/protocol.md): off while guard_table is "". */
	char *region;	     /* "" = the Node's topology.kubernetes.io/region ($NODE_NAME) */
	char *controller_id; /* "" = the region */
	char *guard_table;
	char *guard_regions[OPTIONS_MAX_GUARD_REGIONS]; /* nearest first */
	size_t n_guard_regions;
	int64_t guard_lease_duration_ms;
};

/* Result of options_parse beyond 0: what main does next. */
enum {
	OPTIONS_USAGE_ERROR = -1, /* message written to err; exit 2 */
};

/*
 * Parses argv and the environment (getenv) into o, with defaults for the
 * rest, and validates the result. On a usage error writes one line naming the
 * flag or variable and the problem to err and returns OPTIONS_USAGE_ERROR.
 * o owns its strings: options_release frees them.
 */
int options_parse(struct options *o, int argc, char **argv, FILE *err);
void options_release(struct options *o);

/* Writes the --help text. */
void options_usage(FILE *out);

#endif
