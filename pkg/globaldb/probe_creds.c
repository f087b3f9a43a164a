/*
 * The probe credentials: the user and password each object's probes log in
 * with, read from the Secret or the Secrets Manager secret its
 * spec.healthCheck names, with the CA bundle its caBundleRef names. They are
 * kept per key for GDB_CREDS_TTL_MS and read again sooner when a probe's
 * login is refused or the caBundleRef changes. A Secret's data is shared by
 * every object naming it (struct secret_entry).
 */
#include "pkg/globaldb/reconciler_int.h"

#include <stdio.h>
#include <string.h>

#include "pkg/aws/secretsmanager.h"
#include "pkg/base/alloc.h"
#include "pkg/base/base64.h"
#include "pkg/base/err.h"
#include "pkg/base/timeutil.h"

static const struct kube_resource res_secrets = {"", "v1", "secrets", 1};

/* Decodes Secret data into a C string; NULL when malformed. Caller frees (a secret). */
static char *b64decode(const char *in)
{
	char *out;
	size_t len;

	if (base_base64_decode(in, &out, &len) < 0)
		return NULL;
	if (strlen(out) != len) { /* an embedded NUL is no password */
		base_free_secret(out);
		return NULL;
	}
	return out;
}

/*
 * The Secret's data: the shared copy while it is fresh and reread is 0, else
 * read now. *fetched_mono is when it was read (0 if not kept).
 */
static int read_secret_data(struct gdb_reconciler *r, const char *ns, const char *name, int reread,
			    json_t **data, int64_t *fetched_mono)
{
	struct kube_status st;
	struct secret_entry *e;
	json_t *secret = NULL;
	char *key = xasprintf("%s/%s", ns, name);
	int rc;

	*data = NULL;
	pthread_mutex_lock(&r->lock);
	e = base_map_get(&r->secret_by_key, key);
	*fetched_mono = 0;
	if (e && !reread && base_now_mono_ms() - e->fetched_mono < GDB_CREDS_TTL_MS) {
		*data = json_incref(e->data);
		*fetched_mono = e->fetched_mono;
	}
	pthread_mutex_unlock(&r->lock);
	if (*data) {
		free(key);
		return 0;
	}
	kube_status_clear(&st);
	rc = kube_get(r->o.kube, &res_secrets, ns, name, &secret, &st);
	if (rc == 0 && json_is_object(json_object_get(secret, "data"))) {
		*data = json_incref(json_object_get(secret, "data"));
		pthread_mutex_lock(&r->lock);
		e = base_map_get(&r->secret_by_key, key);
		if (!e) {
			e = xcalloc(1, sizeof(*e));
			e->key = key;
			key = NULL;
			e->next = r->secrets;
			r->secrets = e;
			base_map_put(&r->secret_by_key, e->key, e);
		}
		json_decref(e->data);
		e->data = json_incref(*data);
		e->fetched_mono = *fetched_mono = base_now_mono_ms();
		pthread_mutex_unlock(&r->lock);
	} else if (rc == 0) {
		*data = json_object(); /* no data: the caller names the missing key */
	}
	json_decref(secret);
	free(key);
	return rc;
}

/* The probe credentials from the spec's Secret; *fetched_mono as read_secret_data's. */
static int creds_from_secret(struct gdb_reconciler *r, struct key_state *s, const char *ns,
			     const struct gdb_health_check_spec *hc, int reread,
			     int64_t *fetched_mono)
{
	json_t *data;
	const char *u, *p;
	int rc;

	rc = read_secret_data(r, ns, hc->secret_name, reread, &data, fetched_mono);
	if (rc == BASE_ENOTFOUND) {
		xsetf(&s->creds_error, "Secret %.63s/%.253s does not exist", ns, hc->secret_name);
		return rc;
	}
	if (rc < 0) {
		xsetf(&s->creds_error, "cannot read Secret %.63s/%.253s: %s", ns, hc->secret_name,
		      base_strerror(rc));
		return rc;
	}
	u = json_string_value(json_object_get(data, hc->username_key));
	p = json_string_value(json_object_get(data, hc->password_key));
	if (!u || !p) {
		xsetf(&s->creds_error, "Secret %.63s/%.253s has no key %.100s", ns, hc->secret_name,
		      !u ? hc->username_key : hc->password_key);
		json_decref(data);
		return BASE_EINVAL;
	}
	forget_creds(s);
	s->user = b64decode(u);
	s->password = b64decode(p);
	json_decref(data);
	if (!s->user || !s->password || !*s->user) {
		forget_creds(s);
		xsetf(&s->creds_error, "Secret %.63s/%.253s: %s or %s is not valid base64 text", ns,
		      hc->secret_name, hc->username_key, hc->password_key);
		return BASE_EINVAL;
	}
	return 0;
}

static int creds_from_secrets_manager(struct gdb_reconciler *r, struct key_state *s,
				      const struct gdb_spec *spec)
{
	const char *id = spec->health_check.secrets_manager_secret_id;
	int rc = BASE_EINVAL;

	for (size_t i = 0; i < spec->n_regions; i++) {
		struct aws_secret_value v;
		struct aws_error err;
		json_t *j;

		memset(&v, 0, sizeof(v));
		aws_error_clear(&err);
		rc = aws_secretsmanager_get_secret_value(r->o.aws, spec->regions[i].name, id, NULL,
							 NULL, &v, &err);
		if (rc < 0) {
			xsetf(&s->creds_error, "Secrets Manager secret %s in %s: %s", id,
			      spec->regions[i].name, *err.code ? err.code : base_strerror(rc));
			aws_secret_value_release(&v);
			if (rc == BASE_ETRANSPORT || rc == BASE_ETIMEDOUT || rc == BASE_ESERVER ||
			    rc == BASE_ETHROTTLED)
				continue;
			return rc;
		}
		j = v.secret_string ? json_loads(v.secret_string, 0, NULL) : NULL;
		aws_secret_value_release(&v);
		if (!json_is_string(json_object_get(j, "username")) ||
		    !json_is_string(json_object_get(j, "password"))) {
			xsetf(&s->creds_error,
			      "Secrets Manager secret %s is not a JSON object with username and "
			      "password",
			      id);
			if (j) {
				json_t *pw = json_object_get(j, "password");

				if (json_is_string(pw))
					base_memzero((void *)json_string_value(pw),
						     json_string_length(pw));
			}
			json_decref(j);
			return BASE_EINVAL;
		}
		forget_creds(s);
		s->user = xstrdup(json_string_value(json_object_get(j, "username")));
		s->password = xstrdup(json_string_value(json_object_get(j, "password")));
		base_memzero((void *)json_string_value(json_object_get(j, "password")),
			     json_string_length(json_object_get(j, "password")));
		json_decref(j);
		return 0;
	}
	return rc;
}

/* 0 when s->user/password hold current credentials; else s->creds_error says why. */
int resolve_creds(struct gdb_reconciler *r, struct key_state *s, const char *ns,
		  const struct gdb_spec *spec)
{
	char *old_user = s->user ? xstrdup(s->user) : NULL;
	char *old_pw = s->password ? xstrdup(s->password) : NULL;
	int refused = atomic_exchange(&s->creds_refused, 0), rc;
	int64_t fetched = 0;
	const struct gdb_health_check_spec *hc = &spec->health_check;
	char *ca_ref = hc->ca_name
			       ? xasprintf("%s/%s/%s", hc->ca_from_secret ? "Secret" : "ConfigMap",
					   hc->ca_name, hc->ca_key)
			       : NULL;
	/* A caBundleRef the spec changed (or added) is read now, not at the next refresh. */
	int ca_changed = (!ca_ref != !s->ca_ref) || (ca_ref && strcmp(ca_ref, s->ca_ref));

	if (s->creds_mono && base_now_mono_ms() - s->creds_mono < GDB_CREDS_TTL_MS && !refused &&
	    !ca_changed) {
		free(ca_ref);
		free(old_user);
		base_free_secret(old_pw);
		return 0;
	}
	free(s->ca_ref);
	s->ca_ref = ca_ref;
	free(s->creds_error);
	s->creds_error = NULL;
	if (spec->health_check.secret_name)
		rc = creds_from_secret(r, s, ns, &spec->health_check, refused, &fetched);
	else if (spec->health_check.secrets_manager_secret_id)
		rc = creds_from_secrets_manager(r, s, spec);
	else {
		xsetf(&s->creds_error, "spec.healthCheck names no credentials");
		rc = BASE_EINVAL;
	}
	if (rc == 0 && spec->health_check.ca_name) {
		char *why = NULL;

		rc = gdb_ca_file_load(r->o.kube, ns, &spec->health_check, &s->ca, &why);
		if (rc < 0) {
			free(s->creds_error);
			s->creds_error = why;
		}
	} else if (rc == 0) {
		gdb_ca_file_release(&s->ca);
	}
	if (rc == 0) {
		/* As old as the shared Secret read: no copy is older than the TTL. */
		s->creds_mono = fetched ? fetched : base_now_mono_ms();
		if (!old_user || !old_pw || strcmp(old_user, s->user) ||
		    strcmp(old_pw, s->password))
			s->creds_gen++;
	} else {
		forget_creds(s);
	}
	free(old_user);
	base_free_secret(old_pw);
	return rc;
}
