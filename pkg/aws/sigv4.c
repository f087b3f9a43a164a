/*
 * SigV4 signing. The four steps of docs/aws-protocols.md §7.1 map onto four helpers:
 * canonical_request() builds the canonical request text, sts_text() the string
 * to sign, derive_key() the HMAC chain, and aws_sigv4_sign() ties them
 * together and formats the Authorization header. Everything is computed into
 * uncapped buffers because the inputs are our own requests (or the test
 * suite's), never a peer's data. The derived key lives on the stack and is
 * wiped before return.
 */
#include "pkg/aws/sigv4.h"

#include <ctype.h>
#include <string.h>

#include <openssl/evp.h>
#include <openssl/hmac.h>
#include <openssl/sha.h>

#include "pkg/base/alloc.h"
#include "pkg/base/buf.h"
#include "pkg/base/err.h"

static const char hexdig[] = "0123456789abcdef";
static const char HEXDIG[] = "0123456789ABCDEF";

static void to_hex(const unsigned char *in, size_t n, char *out)
{
	for (size_t i = 0; i < n; i++) {
		out[2 * i] = hexdig[in[i] >> 4];
		out[2 * i + 1] = hexdig[in[i] & 15];
	}
	out[2 * n] = '\0';
}

void aws_sha256_hex(const void *data, size_t n, char out[65])
{
	unsigned char md[SHA256_DIGEST_LENGTH];

	SHA256(data ? data : (const void *)"", n, md);
	to_hex(md, sizeof(md), out);
}

static void hmac(const void *key, size_t keylen, const void *msg, size_t n, unsigned char out[32])
{
	unsigned int len = 32;

	if (!HMAC(EVP_sha256(), key, (int)keylen, msg, n, out, &len) || len != 32)
		BUG("HMAC-SHA256 failed");
}

void aws_sigv4_amz_date(int64_t unix_s, char out[17])
{
	time_t t = (time_t)unix_s;
	struct tm tm;

	gmtime_r(&t, &tm);
	strftime(out, 17, "%Y%m%dT%H%M%SZ", &tm);
}

static int unreserved(unsigned char c)
{
	return isalnum(c) || c == '-' || c == '_' || c == '.' || c == '~';
}

int aws_uri_encode(struct base_buf *out, const char *s, size_t n, int keep_slash)
{
	for (size_t i = 0; i < n; i++) {
		unsigned char c = (unsigned char)s[i];
		int rc;

		if (unreserved(c) || (keep_slash && c == '/'))
			rc = base_buf_addch(out, (char)c);
		else
			rc = base_buf_addf(out, "%%%c%c", HEXDIG[c >> 4], HEXDIG[c & 15]);
		if (rc < 0)
			return rc;
	}
	return 0;
}

static int hexval(char c)
{
	if (c >= '0' && c <= '9')
		return c - '0';
	if (c >= 'a' && c <= 'f')
		return c - 'a' + 10;
	if (c >= 'A' && c <= 'F')
		return c - 'A' + 10;
	return -1;
}

/* Percent-decodes s[0..n) into a new buffer; '+' stays '+'. Caller frees. */
static char *uri_decode(const char *s, size_t n, size_t *outlen)
{
	char *d = xmalloc(n + 1);
	size_t j = 0;

	for (size_t i = 0; i < n; i++) {
		if (s[i] == '%' && i + 2 < n && hexval(s[i + 1]) >= 0 && hexval(s[i + 2]) >= 0) {
			d[j++] = (char)(hexval(s[i + 1]) * 16 + hexval(s[i + 2]));
			i += 2;
		} else {
			d[j++] = s[i];
		}
	}
	d[j] = '\0';
	*outlen = j;
	return d;
}

/*
 * Resolves "." and ".." segments and empty segments ("//"), keeping a
 * trailing slash, then percent-encodes the result (RFC 3986 §5.2.4 as
 * botocore applies it to non-S3 services).
 */
static void canonical_path(struct base_buf *out, const char *path)
{
	size_t n = strlen(path);
	const char **segs = xcalloc(n + 1, sizeof(*segs));
	size_t *lens = xcalloc(n + 1, sizeof(*lens));
	size_t nseg = 0;
	int trailing = n > 0 && path[n - 1] == '/';
	const char *p = path;

	while (*p) {
		const char *e;

		while (*p == '/')
			p++;
		if (!*p)
			break;
		e = strchr(p, '/');
		if (!e)
			e = p + strlen(p);
		if (e - p == 1 && p[0] == '.') {
			/* skip */
		} else if (e - p == 2 && p[0] == '.' && p[1] == '.') {
			if (nseg)
				nseg--;
		} else {
			segs[nseg] = p;
			lens[nseg] = (size_t)(e - p);
			nseg++;
		}
		p = e;
	}
	for (size_t i = 0; i < nseg; i++) {
		base_buf_addch(out, '/');
		aws_uri_encode(out, segs[i], lens[i], 0);
	}
	if (nseg == 0 || trailing)
		base_buf_addch(out, '/');
	free(segs);
	free(lens);
}

struct qpair {
	char *name;  /* encoded */
	char *value; /* encoded */
};

static int qpair_cmp(const void *a, const void *b)
{
	const struct qpair *x = a, *y = b;
	int c = strcmp(x->name, y->name);

	return c ? c : strcmp(x->value, y->value);
}

static void canonical_query(struct base_buf *out, const char *query)
{
	struct qpair *pairs;
	size_t npairs = 0, cap = 1;
	const char *p;

	if (!query || !*query)
		return;
	for (p = query; *p; p++)
		if (*p == '&')
			cap++;
	pairs = xcalloc(cap, sizeof(*pairs));
	p = query;
	while (p) {
		const char *amp = strchr(p, '&');
		size_t len = amp ? (size_t)(amp - p) : strlen(p);
		const char *eq = memchr(p, '=', len);
		size_t nlen = eq ? (size_t)(eq - p) : len;
		struct base_buf enc = BASE_BUF_INIT(0);
		size_t dlen;
		char *dec;

		if (len > 0) {
			dec = uri_decode(p, nlen, &dlen);
			aws_uri_encode(&enc, dec, dlen, 0);
			free(dec);
			pairs[npairs].name = base_buf_detach(&enc, NULL);
			if (eq) {
				dec = uri_decode(eq + 1, len - nlen - 1, &dlen);
				aws_uri_encode(&enc, dec, dlen, 0);
				free(dec);
			}
			pairs[npairs].value = base_buf_detach(&enc, NULL);
			npairs++;
		}
		p = amp ? amp + 1 : NULL;
	}
	qsort(pairs, npairs, sizeof(*pairs), qpair_cmp);
	for (size_t i = 0; i < npairs; i++) {
		base_buf_addf(out, "%s%s=%s", i ? "&" : "", pairs[i].name, pairs[i].value);
		free(pairs[i].name);
		free(pairs[i].value);
	}
	free(pairs);
}

struct chdr {
	char *name; /* lower-case */
	struct base_buf value;
	size_t order;
};

static int chdr_cmp(const void *a, const void *b)
{
	const struct chdr *x = a, *y = b;
	int c = strcmp(x->name, y->name);

	if (c)
		return c;
	return x->order < y->order ? -1 : x->order > y->order;
}

/* Appends v trimmed, with every inner run of whitespace collapsed to one space. */
static void add_trimmed(struct base_buf *out, const char *v)
{
	int pending_space = 0;

	while (*v && isspace((unsigned char)*v))
		v++;
	for (; *v; v++) {
		if (isspace((unsigned char)*v)) {
			pending_space = 1;
			continue;
		}
		if (pending_space)
			base_buf_addch(out, ' ');
		pending_space = 0;
		base_buf_addch(out, *v);
	}
}

/* Canonical headers (each line ends in '\n') into hdrs, the signed list into signed_list. */
static void canonical_headers(const struct aws_sigv4_request *req, struct base_buf *hdrs,
			      struct base_buf *signed_list)
{
	struct chdr *h = xcalloc(req->nheaders + 1, sizeof(*h));
	size_t n = 0;

	for (size_t i = 0; i < req->nheaders; i++) {
		char *name = xstrdup(req->headers[i].name);

		for (char *c = name; *c; c++)
			*c = (char)tolower((unsigned char)*c);
		h[n].name = name;
		base_buf_init(&h[n].value, 0);
		add_trimmed(&h[n].value, req->headers[i].value ? req->headers[i].value : "");
		h[n].order = i;
		n++;
	}
	/* Stable by construction: equal names keep their order of appearance. */
	qsort(h, n, sizeof(*h), chdr_cmp);
	for (size_t i = 0; i < n;) {
		size_t j = i + 1;

		base_buf_addf(hdrs, "%s:%s", h[i].name, h[i].value.data);
		while (j < n && strcmp(h[j].name, h[i].name) == 0) {
			base_buf_addf(hdrs, ",%s", h[j].value.data);
			j++;
		}
		base_buf_addch(hdrs, '\n');
		base_buf_addf(signed_list, "%s%s", signed_list->len ? ";" : "", h[i].name);
		i = j;
	}
	for (size_t i = 0; i < n; i++) {
		free(h[i].name);
		base_buf_release(&h[i].value);
	}
	free(h);
}

static void derive_key(const struct aws_sigv4_key *key, const char *date8, unsigned char out[32])
{
	size_t slen = strlen(key->secret_access_key);
	char *k = xmalloc(slen + 5);
	unsigned char a[32], b[32];

	memcpy(k, "AWS4", 4);
	memcpy(k + 4, key->secret_access_key, slen + 1);
	hmac(k, slen + 4, date8, 8, a);
	hmac(a, 32, key->region, strlen(key->region), b);
	hmac(b, 32, key->service, strlen(key->service), a);
	hmac(a, 32, "aws4_request", 12, out);
	base_memzero(a, sizeof(a));
	base_memzero(b, sizeof(b));
	base_memzero(k, slen + 4);
	free(k);
}

static int valid_date(const char *d)
{
	if (!d || strlen(d) != 16 || d[8] != 'T' || d[15] != 'Z')
		return 0;
	for (int i = 0; i < 15; i++)
		if (i != 8 && !isdigit((unsigned char)d[i]))
			return 0;
	return 1;
}

/* String to sign and signature for canonical request text creq. */
static void sign_creq(const char *creq, const struct aws_sigv4_key *key, const char *amz_date,
		      struct base_buf *sts, char sig[65])
{
	char creq_hash[65];
	unsigned char skey[32], mac[32];
	char date8[9];

	memcpy(date8, amz_date, 8);
	date8[8] = '\0';
	aws_sha256_hex(creq, strlen(creq), creq_hash);
	base_buf_addf(sts, "AWS4-HMAC-SHA256\n%s\n%s/%s/%s/aws4_request\n%s", amz_date, date8,
		      key->region, key->service, creq_hash);
	derive_key(key, date8, skey);
	hmac(skey, 32, sts->data, sts->len, mac);
	base_memzero(skey, sizeof(skey));
	to_hex(mac, 32, sig);
}

int aws_sigv4_sign(const struct aws_sigv4_request *req, const struct aws_sigv4_key *key,
		   const char *amz_date, struct aws_sigv4_result *out)
{
	struct base_buf creq = BASE_BUF_INIT(0), hdrs = BASE_BUF_INIT(0);
	struct base_buf signed_list = BASE_BUF_INIT(0), sts = BASE_BUF_INIT(0);
	char payload[65], sig[65];

	memset(out, 0, sizeof(*out));
	if (!req->method || !*req->method || !valid_date(amz_date) || !key->access_key_id ||
	    !key->secret_access_key || !key->region || !key->service)
		return BASE_EINVAL;
	base_buf_addf(&creq, "%s\n", req->method);
	canonical_path(&creq, req->path && *req->path ? req->path : "/");
	base_buf_addch(&creq, '\n');
	canonical_query(&creq, req->query);
	base_buf_addch(&creq, '\n');
	canonical_headers(req, &hdrs, &signed_list);
	aws_sha256_hex(req->body, req->body_len, payload);
	base_buf_addf(&creq, "%s\n%s\n%s", hdrs.data, signed_list.data, payload);

	sign_creq(creq.data, key, amz_date, &sts, sig);
	out->authorization = xasprintf("AWS4-HMAC-SHA256 Credential=%s/%.8s/%s/%s/aws4_request, "
				       "SignedHeaders=%s, Signature=%s",
				       key->access_key_id, amz_date, key->region, key->service,
				       signed_list.data, sig);
	out->canonical_request = base_buf_detach(&creq, NULL);
	out->string_to_sign = base_buf_detach(&sts, NULL);
	base_buf_release(&hdrs);
	base_buf_release(&signed_list);
	return 0;
}

void aws_sigv4_result_release(struct aws_sigv4_result *r)
{
	if (!r)
		return;
	free(r->authorization);
	free(r->canonical_request);
	free(r->string_to_sign);
	memset(r, 0, sizeof(*r));
}

int aws_sigv4_presign(const char *method, const char *scheme_host, const char *host,
		      const char *path, const char *query_params, const struct aws_sigv4_key *key,
		      const char *session_token, const char *amz_date, int expires_s, char **url)
{
	struct base_buf q = BASE_BUF_INIT(0), cq = BASE_BUF_INIT(0), creq = BASE_BUF_INIT(0);
	struct base_buf sts = BASE_BUF_INIT(0), cred = BASE_BUF_INIT(0);
	char sig[65], empty_hash[65];

	*url = NULL;
	if (!method || !scheme_host || !host || !valid_date(amz_date) || expires_s <= 0 ||
	    !key->access_key_id || !key->secret_access_key || !key->region || !key->service)
		return BASE_EINVAL;
	base_buf_addf(&cred, "%s/%.8s/%s/%s/aws4_request", key->access_key_id, amz_date,
		      key->region, key->service);
	if (query_params && *query_params)
		base_buf_addf(&q, "%s&", query_params);
	base_buf_adds(&q, "X-Amz-Algorithm=AWS4-HMAC-SHA256&X-Amz-Credential=");
	aws_uri_encode(&q, cred.data, cred.len, 0);
	base_buf_addf(&q, "&X-Amz-Date=%s&X-Amz-Expires=%d&X-Amz-SignedHeaders=host", amz_date,
		      expires_s);
	if (session_token && *session_token) {
		base_buf_adds(&q, "&X-Amz-Security-Token=");
		aws_uri_encode(&q, session_token, strlen(session_token), 0);
	}
	canonical_query(&cq, q.data);
	aws_sha256_hex(NULL, 0, empty_hash);
	base_buf_addf(&creq, "%s\n", method);
	canonical_path(&creq, path && *path ? path : "/");
	base_buf_addf(&creq, "\n%s\nhost:%s\n\nhost\n%s", cq.data, host, empty_hash);
	sign_creq(creq.data, key, amz_date, &sts, sig);
	*url = xasprintf("%s%s?%s&X-Amz-Signature=%s", scheme_host, path && *path ? path : "/",
			 cq.data, sig);
	base_buf_release(&q);
	base_buf_release(&cq);
	base_buf_release(&creq);
	base_buf_release(&sts);
	base_buf_release(&cred);
	return 0;
}
