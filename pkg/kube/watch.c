/*
 * Watch framing. Bytes are appended to a capped line buffer; each newline
 * completes a line, which is decoded and delivered, and consumed from the
 * buffer. Blank lines (and a trailing "\r") are tolerated. The buffer only
 * ever holds the unfinished tail, so its cap bounds one event, not the stream.
 */
#include "pkg/kube/watch.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "pkg/base/err.h"

static const char *const type_names[] = {"ADDED", "MODIFIED", "DELETED", "BOOKMARK"};

const char *kube_event_type_name(enum kube_event_type t)
{
	if ((unsigned)t < sizeof(type_names) / sizeof(type_names[0]))
		return type_names[t];
	return "UNKNOWN";
}

void kube_watch_decoder_init(struct kube_watch_decoder *d, size_t max_line, kube_watch_fn fn,
			     void *ud, struct kube_status *st)
{
	memset(d, 0, sizeof(*d));
	base_buf_init(&d->line, max_line ? max_line : KUBE_WATCH_MAX_LINE);
	d->fn = fn;
	d->ud = ud;
	d->st = st;
}

void kube_watch_decoder_release(struct kube_watch_decoder *d)
{
	base_buf_release(&d->line);
}

int kube_watch_decode_event(const char *line, size_t n, enum kube_event_type *type, json_t **object,
			    struct kube_status *st)
{
	json_t *root, *obj;
	const char *t;
	int rc = BASE_EPARSE;
	size_t i;

	*object = NULL;
	root = json_loadb(line, n, JSON_REJECT_DUPLICATES, NULL);
	if (!json_is_object(root))
		goto fail;
	t = json_string_value(json_object_get(root, "type"));
	obj = json_object_get(root, "object");
	if (!t || !json_is_object(obj))
		goto fail;
	if (!strcmp(t, "ERROR")) {
		char *body = json_dumps(obj, JSON_COMPACT);

		rc = kube_status_decode(0, body, body ? strlen(body) : 0, st);
		free(body);
		/* An ERROR without a usable code still ends the watch. */
		if (rc == BASE_EINTERNAL && st && st->code == 0)
			rc = BASE_ESERVER;
		goto out;
	}
	for (i = 0; i < sizeof(type_names) / sizeof(type_names[0]); i++) {
		if (!strcmp(t, type_names[i])) {
			*type = (enum kube_event_type)i;
			*object = json_incref(obj);
			rc = 0;
			goto out;
		}
	}
fail:
	if (st) {
		kube_status_clear(st);
		snprintf(st->message, sizeof(st->message), "malformed watch event");
	}
out:
	json_decref(root);
	return rc;
}

static int deliver(struct kube_watch_decoder *d, const char *line, size_t n)
{
	enum kube_event_type type;
	json_t *obj;
	int rc;

	if (n > 0 && line[n - 1] == '\r')
		n--;
	if (n == 0)
		return 0;
	rc = kube_watch_decode_event(line, n, &type, &obj, d->st);
	if (rc < 0)
		return rc;
	d->events++;
	rc = d->fn ? d->fn(d->ud, type, obj) : 0;
	json_decref(obj);
	return rc;
}

int kube_watch_decoder_feed(struct kube_watch_decoder *d, const char *data, size_t n)
{
	while (!d->err && n > 0) {
		const char *nl = memchr(data, '\n', n);
		size_t take = nl ? (size_t)(nl - data) : n;

		if (d->line.len + take > d->line.max) {
			d->err = BASE_ETOOBIG;
			if (d->st) {
				kube_status_clear(d->st);
				snprintf(d->st->message, sizeof(d->st->message),
					 "watch event longer than %zu bytes", d->line.max);
			}
			break;
		}
		if (!nl) {
			/* Cannot fail: the cap was checked above. */
			base_buf_add(&d->line, data, take);
			break;
		}
		if (d->line.len == 0) {
			d->err = deliver(d, data, take);
		} else {
			base_buf_add(&d->line, data, take);
			d->err = deliver(d, d->line.data, d->line.len);
			base_buf_reset(&d->line);
		}
		data += take + 1;
		n -= take + 1;
	}
	return d->err;
}

int kube_watch_decoder_finish(struct kube_watch_decoder *d)
{
	if (d->err)
		return d->err;
	if (d->line.len > 0) {
		if (d->st) {
			kube_status_clear(d->st);
			snprintf(d->st->message, sizeof(d->st->message),
				 "watch stream ended inside an event");
		}
		d->err = BASE_ETRANSPORT;
	}
	return d->err;
}
