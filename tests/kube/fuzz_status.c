/*
 * Fuzz target: Status decoding of error bodies. The first two bytes choose
 * the HTTP code so every mapping is reached.
 */
#include <stddef.h>
#include <stdint.h>

#include "pkg/kube/status.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct kube_status st = {0};
	int code;

	if (size < 2)
		return 0;
	code = ((data[0] << 8) | data[1]) % 600;
	kube_status_decode(code, (const char *)data + 2, size - 2, &st);
	return 0;
}
