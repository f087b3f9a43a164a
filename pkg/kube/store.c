/*
 * The store is a jansson object used as a hash map from key to entry, behind
 * one mutex. An entry is [resourceVersion, the object as compact JSON text]:
 * a GlobalDatabase of 3.6 KB of JSON is 21.7 KB as a jansson tree, so the
 * informer of 1,000 objects holds ~4 MB instead of ~22. Readers get a tree
 * parsed from the text (tens of microseconds), which is theirs. Writers
 * compute what changed while holding the lock, collect (old, new) pairs,
 * unlock, and only then call handlers, so handlers can use the store and a
 * slow handler never blocks readers.
 */
#include "pkg/kube/store.h"

#include <pthread.h>
#include <string.h>

#include "pkg/base/alloc.h"
#include "pkg/base/err.h"

#define MAX_HANDLERS 8

struct kube_store {
	pthread_mutex_t mu;
	json_t *items; /* key -> object */
	struct kube_handlers handlers[MAX_HANDLERS];
	int nhandlers;
};

struct kube_store *kube_store_new(void)
{
	struct kube_store *s = xcalloc(1, sizeof(*s));

	pthread_mutex_init(&s->mu, NULL);
	s->items = json_object();
	return s;
}

void kube_store_free(struct kube_store *s)
{
	if (!s)
		return;
	json_decref(s->items);
	pthread_mutex_destroy(&s->mu);
	free(s);
}

void kube_store_add_handlers(struct kube_store *s, const struct kube_handlers *h)
{
	pthread_mutex_lock(&s->mu);
	BUG_ON(s->nhandlers >= MAX_HANDLERS);
	s->handlers[s->nhandlers++] = *h;
	pthread_mutex_unlock(&s->mu);
}

char *kube_object_key(json_t *obj)
{
	json_t *md = json_object_get(obj, "metadata");
	const char *name = json_string_value(json_object_get(md, "name"));
	const char *ns = json_string_value(json_object_get(md, "namespace"));

	if (!name || !*name)
		return NULL;
	if (ns && *ns)
		return xasprintf("%s/%s", ns, name);
	return xstrdup(name);
}

static const char *rv_of(json_t *obj)
{
	return json_string_value(
		json_object_get(json_object_get(obj, "metadata"), "resourceVersion"));
}

/* The entry the store keeps for obj: [resourceVersion or null, compact JSON]. */
static json_t *entry_new(json_t *obj)
{
	char *text = json_dumps(obj, JSON_COMPACT);
	const char *rv = rv_of(obj);
	json_t *e;

	if (!text)
		BUG("an object the watch decoded does not encode");
	e = json_pack("[s?s]", rv, text);
	free(text);
	return e;
}

/* A tree of the entry's object (a new reference), or NULL for no entry. */
static json_t *entry_object(json_t *e)
{
	const char *text = json_string_value(json_array_get(e, 1));
	json_t *o;

	if (!text)
		return NULL;
	o = json_loads(text, 0, NULL);
	BUG_ON(!o); /* the store wrote this text itself */
	return o;
}

json_t *kube_store_get(struct kube_store *s, const char *key)
{
	json_t *e;
	json_t *o;

	pthread_mutex_lock(&s->mu);
	e = json_incref(json_object_get(s->items, key));
	pthread_mutex_unlock(&s->mu);
	o = entry_object(e);
	json_decref(e);
	return o;
}

json_t *kube_store_list(struct kube_store *s)
{
	json_t *entries = json_array(), *arr = json_array(), *v;
	const char *k;
	size_t i;

	pthread_mutex_lock(&s->mu);
	json_object_foreach(s->items, k, v) json_array_append(entries, v);
	pthread_mutex_unlock(&s->mu);
	json_array_foreach(entries, i, v) json_array_append_new(arr, entry_object(v));
	json_decref(entries);
	return arr;
}

size_t kube_store_len(struct kube_store *s)
{
	size_t n;

	pthread_mutex_lock(&s->mu);
	n = json_object_size(s->items);
	pthread_mutex_unlock(&s->mu);
	return n;
}

/* Calls the handlers for one change: old NULL = add, new NULL = delete. */
static void notify(struct kube_store *s, json_t *old_obj, json_t *new_obj)
{
	int n;

	pthread_mutex_lock(&s->mu);
	n = s->nhandlers;
	pthread_mutex_unlock(&s->mu);
	for (int i = 0; i < n; i++) {
		const struct kube_handlers *h = &s->handlers[i];

		if (!old_obj && h->on_add)
			h->on_add(h->ud, new_obj);
		else if (old_obj && new_obj && h->on_update)
			h->on_update(h->ud, old_obj, new_obj);
		else if (old_obj && !new_obj && h->on_delete)
			h->on_delete(h->ud, old_obj);
	}
}

int kube_store_apply(struct kube_store *s, enum kube_event_type type, json_t *obj)
{
	json_t *old_obj, *old_entry, *entry;
	char *key;

	if (type == KUBE_EVENT_BOOKMARK)
		return 0;
	key = kube_object_key(obj);
	if (!key)
		return BASE_EINVAL;
	entry = type == KUBE_EVENT_DELETED ? NULL : entry_new(obj);
	pthread_mutex_lock(&s->mu);
	old_entry = json_incref(json_object_get(s->items, key));
	if (type == KUBE_EVENT_DELETED)
		json_object_del(s->items, key);
	else
		json_object_set_new(s->items, key, entry);
	pthread_mutex_unlock(&s->mu);
	old_obj = entry_object(old_entry);
	json_decref(old_entry);
	if (type == KUBE_EVENT_DELETED) {
		/* Report the final state the server sent, as client-go does. */
		if (old_obj)
			notify(s, obj, NULL);
	} else {
		notify(s, old_obj, obj);
	}
	json_decref(old_obj);
	free(key);
	return 0;
}

int kube_store_replace(struct kube_store *s, json_t *items)
{
	json_t *fresh = json_object(), *old_items, *changes = json_array(), *v, *c;
	const char *k;
	size_t i;

	json_array_foreach(items, i, v)
	{
		char *key = kube_object_key(v);

		if (!key) {
			json_decref(fresh);
			json_decref(changes);
			return BASE_EINVAL;
		}
		json_object_set_new(fresh, key, entry_new(v));
		free(key);
	}
	/*
	 * Changes as [old|null, new|null] pairs. There is one writer, so the
	 * current map only changes here; reading it without the lock is safe.
	 */
	old_items = s->items;
	json_array_foreach(items, i, v)
	{
		char *key = kube_object_key(v);
		json_t *o = json_object_get(old_items, key);
		const char *orv = json_string_value(json_array_get(o, 0)), *nrv = rv_of(v);

		if (!o)
			json_array_append_new(changes, json_pack("[nO]", v));
		else if (!orv || !nrv || strcmp(orv, nrv))
			json_array_append_new(changes, json_pack("[oO]", entry_object(o), v));
		free(key);
	}
	json_object_foreach(old_items, k, v)
	{
		if (!json_object_get(fresh, k))
			json_array_append_new(changes, json_pack("[on]", entry_object(v)));
	}
	pthread_mutex_lock(&s->mu);
	s->items = fresh;
	pthread_mutex_unlock(&s->mu);
	json_array_foreach(changes, i, c)
	{
		json_t *o = json_array_get(c, 0), *n = json_array_get(c, 1);

		notify(s, json_is_null(o) ? NULL : o, json_is_null(n) ? NULL : n);
	}
	json_decref(changes);
	json_decref(old_items);
	return 0;
}
