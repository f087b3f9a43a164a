/*
 * cabundle.h - the CA bundle of spec.healthCheck.caBundleRef, as a file libpq
 * can read.
 *
 * libpq 15 takes a CA bundle only as a path (sslrootcert), and the
 * controller's root filesystem is read-only. The bundle, read from a key of a
 * ConfigMap or a Secret in the object's namespace, goes into an anonymous
 * in-memory file (memfd_create), named to libpq as /proc/self/fd/N; libpq
 * opens it afresh for every new connection. A changed bundle gets a new file
 * (so a new path, which reconnects the probes); the previous one is kept
 * open until the next change, so a connection being set up with it still
 * finds it.
 *
 * The text must hold at least one PEM certificate and at most 1 MiB; errors
 * name the object and key, never the content. Not thread-safe: one per key
 * state, used by the reconcile that owns it.
 */
#ifndef GDB_CABUNDLE_H
#define GDB_CABUNDLE_H

#include <stdint.h>

#include "pkg/globaldb/types.h"
#include "pkg/kube/rest.h"

struct gdb_ca_file {
	int fd, prev_fd; /* -1 = none */
	uint64_t hash;	 /* of the bundle in fd */
	char path[40];	 /* "/proc/self/fd/N", "" = none */
};

#define GDB_CA_FILE_INIT                                                                           \
	{                                                                                          \
		-1, -1, 0, ""                                                                      \
	}

/*
 * Reads the bundle hc names in namespace ns into f. 0, or a BASE_ error with
 * *why set (caller frees).
 */
int gdb_ca_file_load(struct kube_client *kube, const char *ns,
		     const struct gdb_health_check_spec *hc, struct gdb_ca_file *f, char **why);

/*
 * Puts text (len bytes) into f: a new file and path unless it is what f
 * holds already. 0, BASE_EINVAL (no PEM certificate, or over 1 MiB) or
 * BASE_EIO.
 */
int gdb_ca_file_set(struct gdb_ca_file *f, const char *text, size_t len);

/* Closes both files; f is then empty. */
void gdb_ca_file_release(struct gdb_ca_file *f);

#endif
