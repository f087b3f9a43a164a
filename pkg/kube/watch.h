/*
 * watch.h - the framing and decoding of a Kubernetes watch stream.
 *
 * A watch response is chunked HTTP carrying one JSON object per line:
 *   {"type":"ADDED","object":{...}}\n
 * Transfer chunks do not respect line boundaries: an event may arrive in
 * many pieces and one chunk may carry many events. The decoder buffers bytes
 * until a newline, with a cap (KUBE_WATCH_MAX_LINE) so a peer cannot make it
 * grow without bound, and hands each complete event to a callback.
 *
 * An ERROR event carries a Status; the decoder turns it into the matching
 * error code (410 Expired -> BASE_EGONE) and stops. A decoder is sticky: after
 * the first error every further feed returns the same error.
 *
 * Not thread-safe: one decoder per stream.
 */
#ifndef KUBE_WATCH_H
#define KUBE_WATCH_H

#include <jansson.h>
#include <stddef.h>

#include "pkg/base/buf.h"
#include "pkg/kube/status.h"

/* The longest watch line accepted: etcd objects are at most ~1.5 MiB, JSON a bit more. */
#define KUBE_WATCH_MAX_LINE (8u << 20)

enum kube_event_type {
	KUBE_EVENT_ADDED,
	KUBE_EVENT_MODIFIED,
	KUBE_EVENT_DELETED,
	KUBE_EVENT_BOOKMARK,
};

/* "ADDED", "MODIFIED", "DELETED", "BOOKMARK". */
const char *kube_event_type_name(enum kube_event_type t);

/*
 * Called once per event with the decoded object (borrowed: incref it to keep
 * it). Return 0 to go on, or a negative code to stop the stream with it.
 */
typedef int (*kube_watch_fn)(void *ud, enum kube_event_type type, json_t *object);

struct kube_watch_decoder {
	struct base_buf line; /* bytes of the current, incomplete line */
	kube_watch_fn fn;
	void *ud;
	struct kube_status *st; /* borrowed, may be NULL: filled on ERROR events */
	int err;		/* sticky first error, 0 while healthy */
	unsigned long events;	/* events delivered so far */
};

/* Initializes d; max_line is the line cap (0 = KUBE_WATCH_MAX_LINE). st may be NULL. */
void kube_watch_decoder_init(struct kube_watch_decoder *d, size_t max_line, kube_watch_fn fn,
			     void *ud, struct kube_status *st);
/* Frees the line buffer. */
void kube_watch_decoder_release(struct kube_watch_decoder *d);

/*
 * Feeds n bytes. Delivers every completed line. Returns 0, or the sticky
 * error: BASE_ETOOBIG (line over the cap), BASE_EPARSE (not a watch event),
 * the code of an ERROR event's Status, or what the callback returned.
 */
int kube_watch_decoder_feed(struct kube_watch_decoder *d, const char *data, size_t n);

/*
 * The stream ended. Returns the sticky error, BASE_ETRANSPORT when a partial
 * line is left (the stream was cut mid-event), or 0.
 */
int kube_watch_decoder_finish(struct kube_watch_decoder *d);

/*
 * Decodes one line (without its newline). On success *type is set and
 * *object receives a new reference. An ERROR event returns its Status's code
 * (st filled). Other failures: BASE_EPARSE.
 */
int kube_watch_decode_event(const char *line, size_t n, enum kube_event_type *type, json_t **object,
			    struct kube_status *st);

#endif
