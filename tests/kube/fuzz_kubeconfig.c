/*
 * Fuzz target: kubeconfig parsing (YAML, then field resolution). Relative
 * file references resolve under a directory that does not exist; the loader
 * never runs exec plugins (only a request does), so the input cannot run
 * commands.
 */
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>

#include "pkg/kube/config.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct kube_config *cfg = NULL;
	char *msg = NULL;

	kube_config_load_kubeconfig_data((const char *)data, size, "fuzz", "/nonexistent-fuzz-dir",
					 NULL, &cfg, &msg);
	free(msg);
	kube_config_free(cfg);
	return 0;
}
