/*
 * conditions.h - metav1.Condition lists with Kubernetes semantics.
 *
 * Works on the `status.conditions` JSON array of an object (the caller's own,
 * mutable copy). kube_condition_set follows apimachinery's
 * meta.SetStatusCondition: a new type is appended with lastTransitionTime =
 * now; an existing one keeps its lastTransitionTime unless `status` changes;
 * reason, message and observedGeneration are updated in place. It reports
 * whether anything changed, so a reconciler skips the API write when nothing
 * did.
 *
 * Thread-safety: none needed (the caller owns the array).
 */
#ifndef KUBE_CONDITIONS_H
#define KUBE_CONDITIONS_H

#include <jansson.h>
#include <stdint.h>

/* Limits from metav1.Condition's validation. */
#define KUBE_CONDITION_TYPE_MAX 316
#define KUBE_CONDITION_REASON_MAX 1024
#define KUBE_CONDITION_MESSAGE_MAX 32768

struct kube_condition {
	const char *type;	     /* "Ready"; required */
	const char *status;	     /* "True", "False" or "Unknown" */
	const char *reason;	     /* CamelCase, ^[A-Za-z]([A-Za-z0-9_,:]*[A-Za-z0-9_])?$ */
	const char *message;	     /* may be "" (NULL = "") */
	int64_t observed_generation; /* >= 0; 0 leaves the field out */
};

/*
 * Sets cond in conditions (a JSON array, modified in place). now_ms is the
 * wall-clock time in ms for a transition. Returns 1 if the array changed, 0
 * if it already said exactly this, BASE_EINVAL for a condition that fails
 * validation (the array is left unchanged).
 */
int kube_condition_set(json_t *conditions, const struct kube_condition *cond, int64_t now_ms);

/* The condition object of that type (borrowed), or NULL. */
json_t *kube_condition_find(json_t *conditions, const char *type);

/* True when the condition of that type has status "True". */
int kube_condition_is_true(json_t *conditions, const char *type);

/* Removes the condition of that type. Returns 1 if one was removed, else 0. */
int kube_condition_remove(json_t *conditions, const char *type);

/* Checks cond against metav1.Condition's validation. 0 or BASE_EINVAL. */
int kube_condition_validate(const struct kube_condition *cond);

#endif
