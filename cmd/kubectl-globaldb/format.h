/*
 * format.h - what `kubectl globaldb` prints, and the decisions it makes
 * before it writes, as pure functions of the objects the apiserver returned.
 *
 * Nothing here talks to the network or reads a clock: the caller passes the
 * GlobalDatabase (a jansson object as `kubectl get -o json` shows it), its
 * Events and the current time, and gets text in a base_buf. So the unit
 * tests (tests/plugin/test_format.c) feed real objects and compare what an
 * on-call engineer reads, and the e2e tier (tests/plugin/test_plugin.py)
 * checks the same text against a running controller.
 *
 * The status is read with the controller's own decoder (pkg/globaldb/types.h),
 * so the plugin and the controller cannot disagree on what a field means.
 *
 * Objects are borrowed; nothing is kept. Thread-safe (no shared state).
 */
#ifndef KGDB_FORMAT_H
#define KGDB_FORMAT_H

#include <jansson.h>
#include <stddef.h>
#include <stdint.h>

#include "pkg/base/buf.h"

/* The field manager the plugin writes with (metadata.managedFields names it). */
#define KGDB_FIELD_MANAGER "kubectl-globaldb"

/* Exit codes, as `kubectl globaldb --help` lists them. */
#define KGDB_EXIT_OK 0
#define KGDB_EXIT_ERROR 1   /* the apiserver refused, or could not be reached; not found */
#define KGDB_EXIT_USAGE 2   /* bad flags or arguments */
#define KGDB_EXIT_REFUSED 3 /* the action does not apply now: nothing awaits approval, ... */
#define KGDB_EXIT_FAILED 4  /* switchover --wait: the operation failed, or the wait timed out */

/* "45s", "3m05s", "2h10m", "4d3h"; negative durations count as 0. */
void kgdb_duration(int64_t seconds, char *out, size_t n);

/*
 * `kubectl globaldb status`: identity, writer, conditions, one row per
 * region (role, cluster, health, lag against spec.failover.maxDataLossSeconds),
 * the operation in flight with its step timings, and lastOperation.
 * 0, or BASE_EINVAL with the reason appended to out when the status cannot
 * be decoded (a status written by a newer controller, say).
 */
int kgdb_format_status(struct base_buf *out, const json_t *obj, int64_t now_ms);

/*
 * `kubectl globaldb history`: the object's Events (events.k8s.io/v1, from
 * events, an array; those regarding another object are skipped), oldest
 * first, then lastOperation. Events are ordered by eventTime, then by
 * metadata.resourceVersion (the order the apiserver stored them), since one
 * plan's Events share a millisecond.
 */
void kgdb_format_history(struct base_buf *out, const json_t *obj, const json_t *events,
			 int64_t now_ms);

/*
 * The field manager other than the plugin itself that owns
 * spec.primaryRegion according to metadata.managedFields, or NULL (borrowed
 * from obj). Managers that only patch imperatively (kubectl patch, edit) are
 * not owners a later sync restores from: they are skipped. *gitops is set to
 * the GitOps tool's name when the manager is a known one (Argo CD, Flux,
 * Helm), else NULL.
 */
const char *kgdb_primary_region_owner(const json_t *obj, const char **gitops);

/*
 * Whether an approval (type "Failover" or "Fallback") applies now, and the
 * annotation value to write: the current time, or the operation's
 * startedTime when this machine's clock is behind the controller's (an
 * approval counts only at or after the recommendation, docs/api.md
 * "Annotations"). 0 with value set (RFC 3339, seconds), or
 * KGDB_EXIT_REFUSED with the reason in why (nothing of that type awaits
 * approval, or the recommendation is dated far in the future). With the
 * two-controller guard, a detach waiting for a co-signature (Guarded False,
 * AwaitingCorroboration) awaits a failover approval, dated after that wait
 * began.
 */
int kgdb_approval_value(const json_t *obj, const char *type, int64_t now_ms, char *value,
			size_t value_len, char *why, size_t why_len);

#endif
