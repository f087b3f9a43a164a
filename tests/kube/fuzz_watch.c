/*
 * Fuzz target: watch framing and event decoding. The first byte picks a
 * chunk size so the same stream is also cut at varied places; the line cap
 * is small so the over-cap path is reached.
 */
#include <stddef.h>
#include <stdint.h>

#include "pkg/kube/watch.h"

static int sink(void *ud, enum kube_event_type type, json_t *obj)
{
	(void)ud;
	(void)type;
	return json_object_size(obj) > 1000 ? -1 : 0;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct kube_watch_decoder d;
	struct kube_status st;
	size_t chunk;

	if (size == 0)
		return 0;
	chunk = (size_t)data[0] + 1;
	data++;
	size--;
	kube_watch_decoder_init(&d, 4096, sink, NULL, &st);
	while (size > 0) {
		size_t n = size < chunk ? size : chunk;

		if (kube_watch_decoder_feed(&d, (const char *)data, n) < 0)
			break;
		data += n;
		size -= n;
	}
	kube_watch_decoder_finish(&d);
	kube_watch_decoder_release(&d);
	return 0;
}
