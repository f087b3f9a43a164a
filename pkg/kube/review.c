/*
 * TokenReview, then SubjectAccessReview, with a small cache of decisions in
 * front. The cache is an array searched linearly: KUBE_REVIEW_CACHE entries
 * of 32-byte keys are a few microseconds to scan, far below one apiserver
 * round trip, and a scraper reuses one token for hours.
 */
#include "pkg/kube/review.h"

#include <openssl/crypto.h>
#include <openssl/evp.h>
#include <openssl/hmac.h>
#include <openssl/rand.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "pkg/base/alloc.h"
#include "pkg/base/err.h"
#include "pkg/base/timeutil.h"

#define KEY_LEN 32
#define USER_MAX 256

static const struct kube_resource res_tokenreviews = {"authentication.k8s.io", "v1", "tokenreviews",
						      0};
static const struct kube_resource res_sars = {"authorization.k8s.io", "v1", "subjectaccessreviews",
					      0};

struct entry {
	unsigned char key[KEY_LEN];
	int result;
	int64_t expires_ms; /* 0 = empty slot */
	char user[USER_MAX];
};

struct kube_reviewer {
	struct kube_client *client;
	char *path;
	char *verb;
	unsigned char hmac_key[KEY_LEN];
	pthread_mutex_t mu;
	struct entry cache[KUBE_REVIEW_CACHE];
};

struct kube_reviewer *kube_reviewer_new(struct kube_client *client, const char *path,
					const char *verb)
{
	struct kube_reviewer *r = xcalloc(1, sizeof(*r));

	r->client = client;
	r->path = xstrdup(path);
	r->verb = xstrdup(verb);
	if (RAND_bytes(r->hmac_key, sizeof(r->hmac_key)) != 1)
		BUG("RAND_bytes failed");
	pthread_mutex_init(&r->mu, NULL);
	return r;
}

void kube_reviewer_free(struct kube_reviewer *r)
{
	if (!r)
		return;
	OPENSSL_cleanse(r->hmac_key, sizeof(r->hmac_key));
	pthread_mutex_destroy(&r->mu);
	free(r->path);
	free(r->verb);
	free(r);
}

static void cache_key(const struct kube_reviewer *r, const char *token, unsigned char *key)
{
	unsigned len = KEY_LEN;

	if (!HMAC(EVP_sha256(), r->hmac_key, KEY_LEN, (const unsigned char *)token, strlen(token),
		  key, &len))
		BUG("HMAC-SHA256 failed");
}

/* The cached result for key, or -1. */
static int cache_get(struct kube_reviewer *r, const unsigned char *key, char *user, size_t n)
{
	int64_t now = base_now_mono_ms();
	int result = -1;

	pthread_mutex_lock(&r->mu);
	for (size_t i = 0; i < KUBE_REVIEW_CACHE; i++) {
		struct entry *e = &r->cache[i];

		if (e->expires_ms > now && !CRYPTO_memcmp(e->key, key, KEY_LEN)) {
			result = e->result;
			snprintf(user, n, "%s", e->user);
			break;
		}
	}
	pthread_mutex_unlock(&r->mu);
	return result;
}

static void cache_put(struct kube_reviewer *r, const unsigned char *key, int result,
		      const char *user)
{
	int64_t now = base_now_mono_ms(), ttl;
	struct entry *slot = NULL;

	ttl = result == KUBE_REVIEW_ALLOWED  ? KUBE_REVIEW_ALLOW_TTL_MS
	      : result == KUBE_REVIEW_DENIED ? KUBE_REVIEW_DENY_TTL_MS
					     : KUBE_REVIEW_UNAUTH_TTL_MS;
	pthread_mutex_lock(&r->mu);
	/* The same key, else a free or expired slot, else the one expiring first. */
	for (size_t i = 0; i < KUBE_REVIEW_CACHE && !slot; i++)
		if (!memcmp(r->cache[i].key, key, KEY_LEN))
			slot = &r->cache[i];
	for (size_t i = 0; i < KUBE_REVIEW_CACHE && !slot; i++)
		if (r->cache[i].expires_ms <= now)
			slot = &r->cache[i];
	if (!slot) {
		slot = &r->cache[0];
		for (size_t i = 1; i < KUBE_REVIEW_CACHE; i++)
			if (r->cache[i].expires_ms < slot->expires_ms)
				slot = &r->cache[i];
	}
	memcpy(slot->key, key, KEY_LEN);
	slot->result = result;
	slot->expires_ms = now + ttl;
	snprintf(slot->user, sizeof(slot->user), "%s", user);
	pthread_mutex_unlock(&r->mu);
}

/* A failed call: why into user; the error code. */
static int call_failed(const char *what, int rc, const struct kube_status *st, char *user, size_t n)
{
	snprintf(user, n, "%s: %s", what, *st->message ? st->message : base_strerror(rc));
	return rc < 0 ? rc : BASE_EIO;
}

/* TokenReview: 0 with *who (status.user, a new reference) or NULL when not authenticated. */
static int token_review(struct kube_reviewer *r, const char *token, json_t **who, char *user,
			size_t n)
{
	struct kube_status st;
	json_t *body, *out = NULL, *status;
	int rc;

	*who = NULL;
	kube_status_clear(&st);
	body = json_pack("{s:s, s:s, s:{s:s}}", "apiVersion", "authentication.k8s.io/v1", "kind",
			 "TokenReview", "spec", "token", token);
	if (!body) /* not UTF-8: no token the apiserver issued */
		return 0;
	rc = kube_create(r->client, &res_tokenreviews, NULL, body, &out, &st);
	/* The body and the answer (which echoes spec) hold the token: drop both now. */
	json_decref(body);
	if (rc < 0)
		return call_failed("TokenReview", rc, &st, user, n);
	status = json_object_get(out, "status");
	if (json_is_true(json_object_get(status, "authenticated")) &&
	    json_is_object(json_object_get(status, "user")))
		*who = json_incref(json_object_get(status, "user"));
	json_decref(out);
	return 0;
}

/* SubjectAccessReview for who: 1 allowed, 0 denied, or a negative code. */
static int access_review(struct kube_reviewer *r, json_t *who, char *user, size_t n)
{
	static const char *const fields[] = {"username", "uid", "groups", "extra"};
	static const char *const sar_fields[] = {"user", "uid", "groups", "extra"};
	struct kube_status st;
	json_t *spec, *body, *out = NULL;
	int rc, allowed;

	kube_status_clear(&st);
	spec = json_pack("{s:{s:s, s:s}}", "nonResourceAttributes", "path", r->path, "verb",
			 r->verb);
	for (size_t i = 0; i < ARRAY_SIZE(fields); i++) {
		json_t *v = json_object_get(who, fields[i]);

		if (v)
			json_object_set(spec, sar_fields[i], v);
	}
	body = json_pack("{s:s, s:s, s:o}", "apiVersion", "authorization.k8s.io/v1", "kind",
			 "SubjectAccessReview", "spec", spec);
	if (!body)
		return BASE_EINTERNAL;
	rc = kube_create(r->client, &res_sars, NULL, body, &out, &st);
	json_decref(body);
	if (rc < 0)
		return call_failed("SubjectAccessReview", rc, &st, user, n);
	allowed = json_is_true(json_object_get(json_object_get(out, "status"), "allowed"));
	json_decref(out);
	return allowed;
}

int kube_review(struct kube_reviewer *r, const char *token, char *user, size_t n)
{
	unsigned char key[KEY_LEN];
	json_t *who = NULL;
	int result, rc;

	snprintf(user, n, "%s", "");
	if (!token || !*token || strlen(token) > KUBE_REVIEW_MAX_TOKEN)
		return KUBE_REVIEW_UNAUTHENTICATED;
	cache_key(r, token, key);
	if ((result = cache_get(r, key, user, n)) >= 0)
		return result;

	kube_set_thread_timeout(KUBE_REVIEW_TIMEOUT_MS);
	rc = token_review(r, token, &who, user, n);
	if (rc == 0 && who) {
		snprintf(user, n, "%s",
			 json_string_value(json_object_get(who, "username"))
				 ? json_string_value(json_object_get(who, "username"))
				 : "");
		rc = access_review(r, who, user, n);
	}
	kube_set_thread_timeout(0);
	json_decref(who);
	if (rc < 0)
		return rc;
	result = !who ? KUBE_REVIEW_UNAUTHENTICATED : rc ? KUBE_REVIEW_ALLOWED : KUBE_REVIEW_DENIED;
	cache_put(r, key, result, user);
	OPENSSL_cleanse(key, sizeof(key));
	return result;
}
