/*
 * store.h - a thread-safe cache of Kubernetes objects keyed "namespace/name".
 *
 * The informer's indexer: the reflector writes it, reconcilers read it.
 * The store keeps each object as compact JSON text (a jansson tree is ~6x
 * larger), so every read parses a tree of the reader's own: the reader may
 * modify it and must json_decref it. Writers' objects are borrowed.
 *
 * Handlers (add/update/delete) are registered before the writer starts and
 * are called by the writer's thread after the store has changed and outside
 * its lock, in event order, so a handler may read the store. A handler must
 * not block for long (enqueue a key and return).
 *
 * Thread-safety: readers may call from any thread at any time. There is one
 * writer (the reflector) at a time; handlers are called from its thread.
 */
#ifndef KUBE_STORE_H
#define KUBE_STORE_H

#include <jansson.h>
#include <stddef.h>

#include "pkg/kube/watch.h"

struct kube_handlers {
	/* Each may be NULL. Objects are borrowed for the call (incref to keep). */
	void (*on_add)(void *ud, json_t *obj);
	void (*on_update)(void *ud, json_t *old_obj, json_t *new_obj);
	void (*on_delete)(void *ud, json_t *obj);
	void *ud;
};

struct kube_store;

struct kube_store *kube_store_new(void);
/* Frees the store, dropping its references. NULL is fine. */
void kube_store_free(struct kube_store *s);

/* Registers handlers (copied). Call before any write. At most 8 sets. */
void kube_store_add_handlers(struct kube_store *s, const struct kube_handlers *h);

/* "namespace/name", or "name" for cluster-scoped objects; NULL without a name. Caller frees. */
char *kube_object_key(json_t *obj);

/* The object with key (the caller's own tree), or NULL. */
json_t *kube_store_get(struct kube_store *s, const char *key);
/* A new array of every object (order unspecified). */
json_t *kube_store_list(struct kube_store *s);
size_t kube_store_len(struct kube_store *s);

/*
 * Writer side. Applies one watch event (obj borrowed; the store keeps a
 * reference) and calls handlers: ADDED/MODIFIED of an unknown key -> add,
 * of a known key -> update, DELETED -> delete (if known). BOOKMARK: nothing.
 * Returns 0, or BASE_EINVAL for an object without a name.
 */
int kube_store_apply(struct kube_store *s, enum kube_event_type type, json_t *obj);

/*
 * Writer side: replaces the whole content with items (a JSON array, borrowed)
 * in one step under the lock, then tells the handlers the difference: add for
 * new keys, update for keys whose metadata.resourceVersion changed, delete
 * (with the last known object) for keys that are gone. Unchanged objects
 * produce nothing, so a relist neither loses nor duplicates events.
 */
int kube_store_replace(struct kube_store *s, json_t *items);

#endif
