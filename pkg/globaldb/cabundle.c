/* The CA bundle of spec.healthCheck.caBundleRef as an in-memory file (cabundle.h). */
#include "pkg/globaldb/cabundle.h"

#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

#include "pkg/base/alloc.h"
#include "pkg/base/base64.h"
#include "pkg/base/err.h"
#include "pkg/base/map.h"

#define CA_MAX (1 << 20)

static const struct kube_resource res_configmaps = {"", "v1", "configmaps", 1};
static const struct kube_resource res_secrets = {"", "v1", "secrets", 1};

static int write_all(int fd, const char *p, size_t n)
{
	while (n > 0) {
		ssize_t w = write(fd, p, n);

		if (w < 0 && errno == EINTR)
			continue;
		if (w <= 0)
			return -1;
		p += w;
		n -= (size_t)w;
	}
	return 0;
}

int gdb_ca_file_set(struct gdb_ca_file *f, const char *text, size_t len)
{
	uint64_t hash;
	int fd;

	if (len > CA_MAX || !memmem(text, len, "-----BEGIN CERTIFICATE-----", 27))
		return BASE_EINVAL;
	hash = base_hash(text, len, 0);
	if (f->fd >= 0 && hash == f->hash)
		return 0;
	fd = memfd_create("globaldb-ca-bundle", MFD_CLOEXEC);
	if (fd < 0)
		return BASE_EIO;
	if (write_all(fd, text, len) < 0) {
		close(fd);
		return BASE_EIO;
	}
	if (f->prev_fd >= 0)
		close(f->prev_fd);
	f->prev_fd = f->fd;
	f->fd = fd;
	f->hash = hash;
	snprintf(f->path, sizeof(f->path), "/proc/self/fd/%d", fd);
	return 0;
}

int gdb_ca_file_load(struct kube_client *kube, const char *ns,
		     const struct gdb_health_check_spec *hc, struct gdb_ca_file *f, char **why)
{
	const char *kind = hc->ca_from_secret ? "Secret" : "ConfigMap";
	struct kube_status st;
	json_t *obj = NULL, *v;
	char *decoded = NULL;
	const char *text;
	size_t len;
	int rc;

	*why = NULL;
	kube_status_clear(&st);
	rc = kube_get(kube, hc->ca_from_secret ? &res_secrets : &res_configmaps, ns, hc->ca_name,
		      &obj, &st);
	if (rc == BASE_ENOTFOUND) {
		*why = xasprintf("caBundleRef: %s %.63s/%.253s does not exist", kind, ns,
				 hc->ca_name);
		return rc;
	}
	if (rc < 0) {
		*why = xasprintf("caBundleRef: cannot read %s %.63s/%.253s: %s", kind, ns,
				 hc->ca_name, base_strerror(rc));
		return rc;
	}
	v = json_object_get(json_object_get(obj, "data"), hc->ca_key);
	text = json_string_value(v);
	len = text ? json_string_length(v) : 0;
	if (text && hc->ca_from_secret) {
		if (base_base64_decode(text, &decoded, &len) < 0) {
			rc = BASE_EINVAL;
			goto bad;
		}
		text = decoded;
	}
	if (!text) {
		*why = xasprintf("caBundleRef: %s %.63s/%.253s has no key %.100s", kind, ns,
				 hc->ca_name, hc->ca_key);
		rc = BASE_ENOTFOUND;
		goto out;
	}
	rc = gdb_ca_file_set(f, text, len);
	if (rc == BASE_EINVAL)
		goto bad;
	if (rc < 0)
		*why = xasprintf("caBundleRef: cannot keep the CA bundle: %s", base_strerror(rc));
	goto out;
bad:
	*why = xasprintf("caBundleRef: %s %.63s/%.253s key %.100s is not a PEM CA bundle of at "
			 "most 1 MiB",
			 kind, ns, hc->ca_name, hc->ca_key);
out:
	free(decoded);
	json_decref(obj);
	return rc;
}

void gdb_ca_file_release(struct gdb_ca_file *f)
{
	if (f->fd >= 0)
		close(f->fd);
	if (f->prev_fd >= 0)
		close(f->prev_fd);
	*f = (struct gdb_ca_file)GDB_CA_FILE_INIT;
}
