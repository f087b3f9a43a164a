/*
 * base64.h - decoding standard base64 (RFC 4648 §4), as Kubernetes Secret
 * data, kubeconfig *-data fields and Secrets Manager's SecretBinary carry it.
 *
 * The input is hostile until decoded: anything outside the alphabet, data
 * after padding, more than two '=' or a dangling final character is
 * BASE_EPARSE. Padding is optional and ASCII white space is skipped (PEM
 * blocks in kubeconfigs are wrapped).
 */
#ifndef BASE_BASE64_H
#define BASE_BASE64_H

#include <stddef.h>

/*
 * Decodes the NUL-terminated in. On success *out is a new buffer of *outlen
 * bytes plus a terminating NUL (the caller frees it, and wipes it first when it
 * held a secret: base_memzero). 0 or BASE_EPARSE (*out untouched).
 */
int base_base64_decode(const char *in, char **out, size_t *outlen);

#endif
