/*
 * The credential chain's sources. Each is a fetch_* function that returns 0
 * with fresh credentials, BASE_ENOTFOUND when the source is not configured
 * (the chain moves on), or another code when it is configured but failed (the
 * chain stops: a broken configuration must not silently fall through to a
 * different identity). The provider (creds.c) remembers the first source
 * that worked and refreshes from it alone.
 *
 * Shared config files are parsed into a flat (section, key, value) table,
 * capped at AWS_CREDS_MAX_FILE; values that are secrets are wiped when the
 * table is freed. STS calls go through private clients with short budgets: an
 * unsigned one for web identity, one signed with the source credentials for
 * AssumeRole.
 */
#include <arpa/inet.h>
#include <ctype.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <strings.h>
#include <unistd.h>

#include <jansson.h>

#include "pkg/aws/client.h"
#include "pkg/aws/creds.h"
#include "pkg/aws/creds_int.h"
#include "pkg/aws/sts.h"
#include "pkg/base/alloc.h"
#include "pkg/base/buf.h"
#include "pkg/base/err.h"
#include "pkg/base/timeutil.h"

#define AWS_CREDS_MAX_FILE (1u << 20)	/* shared config / credentials file */
#define AWS_CREDS_MAX_TOKEN (64u << 10) /* web identity / container token file */
#define AWS_CREDS_MAX_HTTP (64u << 10)	/* container / IMDS answers */
#define STS_ATTEMPT_TIMEOUT_MS 5000	/* one STS exchange for credentials */
#define STS_CALL_TIMEOUT_MS (15 * 1000) /* an STS call for credentials, retries included */
#define MAX_PROFILE_DEPTH 4

static const char *env(const char *name)
{
	const char *v = getenv(name);

	return v && *v ? v : NULL;
}

/* Reads a whole file, at most cap bytes. 0, BASE_ENOTFOUND, BASE_ETOOBIG or BASE_EIO. */
static int read_file(const char *path, size_t cap, struct base_buf *out)
{
	char chunk[4096];
	ssize_t n;
	int fd, rc = 0;

	base_buf_init(out, cap);
	fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return errno == ENOENT ? BASE_ENOTFOUND : BASE_EIO;
	while ((n = read(fd, chunk, sizeof(chunk))) != 0) {
		if (n < 0) {
			if (errno == EINTR)
				continue;
			rc = BASE_EIO;
			break;
		}
		rc = base_buf_add(out, chunk, (size_t)n);
		if (rc < 0)
			break;
	}
	base_memzero(chunk, sizeof(chunk));
	close(fd);
	if (rc < 0) {
		base_memzero(out->data, out->len);
		base_buf_release(out);
	}
	return rc;
}

/* Reads a token file and trims surrounding whitespace. Caller frees with base_free_secret. */
static int read_token(const char *path, char **token)
{
	struct base_buf b;
	size_t s = 0, e;
	int rc = read_file(path, AWS_CREDS_MAX_TOKEN, &b);

	*token = NULL;
	if (rc < 0)
		return rc;
	e = b.len;
	while (s < e && isspace((unsigned char)b.data[s]))
		s++;
	while (e > s && isspace((unsigned char)b.data[e - 1]))
		e--;
	*token = xstrndup(b.data + s, e - s);
	base_memzero(b.data, b.len);
	base_buf_release(&b);
	return 0;
}

/* ---- shared config files ---- */

struct ini_entry {
	char *section;
	char *key;
	char *value;
};

struct ini {
	struct ini_entry *e;
	size_t n, alloc;
};

static char *trim_dup(const char *s, size_t n)
{
	while (n && isspace((unsigned char)*s)) {
		s++;
		n--;
	}
	while (n && isspace((unsigned char)s[n - 1]))
		n--;
	return xstrndup(s, n);
}

/*
 * Parses INI text: "[section]" lines, "key = value" lines, '#' and ';'
 * comments. Indented continuation lines (nested s3 settings) are skipped.
 */
static void ini_parse(struct ini *ini, const char *text, size_t len)
{
	char *section = NULL;
	size_t i = 0;

	while (i < len) {
		size_t eol = i;
		const char *line;
		size_t ll;

		while (eol < len && text[eol] != '\n')
			eol++;
		line = text + i;
		ll = eol - i;
		i = eol + 1;
		if (ll && line[ll - 1] == '\r')
			ll--;
		if (ll == 0 || line[0] == '#' || line[0] == ';')
			continue;
		if (line[0] == ' ' || line[0] == '\t')
			continue;
		if (line[0] == '[') {
			const char *close = memchr(line, ']', ll);

			free(section);
			section = close ? trim_dup(line + 1, (size_t)(close - line - 1)) : NULL;
			continue;
		}
		if (section) {
			const char *eq = memchr(line, '=', ll);

			if (!eq)
				continue;
			ALLOC_GROW(ini->e, ini->n + 1, ini->alloc);
			ini->e[ini->n].section = xstrdup(section);
			ini->e[ini->n].key = trim_dup(line, (size_t)(eq - line));
			ini->e[ini->n].value = trim_dup(eq + 1, ll - (size_t)(eq - line) - 1);
			ini->n++;
		}
	}
	free(section);
}

static void ini_release(struct ini *ini)
{
	for (size_t i = 0; i < ini->n; i++) {
		free(ini->e[i].section);
		free(ini->e[i].key);
		base_free_secret(ini->e[i].value);
	}
	free(ini->e);
	memset(ini, 0, sizeof(*ini));
}

static const char *ini_get(const struct ini *ini, const char *section, const char *key)
{
	const char *v = NULL;

	/* The last assignment wins, as in configparser. */
	for (size_t i = 0; i < ini->n; i++)
		if (strcmp(ini->e[i].section, section) == 0 && strcmp(ini->e[i].key, key) == 0)
			v = ini->e[i].value;
	return v && *v ? v : NULL;
}

static int ini_has_section(const struct ini *ini, const char *section)
{
	for (size_t i = 0; i < ini->n; i++)
		if (strcmp(ini->e[i].section, section) == 0)
			return 1;
	return 0;
}

struct profiles {
	struct ini creds;  /* ~/.aws/credentials: [name] */
	struct ini config; /* ~/.aws/config: [profile name] / [default] */
};

static int load_one(const char *var, const char *def_name, struct ini *ini, struct aws_error *err)
{
	const char *path = env(var);
	char *def = NULL;
	struct base_buf b;
	int rc;

	if (!path) {
		const char *home = env("HOME");

		if (!home)
			return 0;
		def = xasprintf("%s/.aws/%s", home, def_name);
		path = def;
	}
	rc = read_file(path, AWS_CREDS_MAX_FILE, &b);
	if (rc == BASE_ENOTFOUND) {
		rc = 0;
		goto out;
	}
	if (rc < 0) {
		aws_error_set(err, 0, "", "cannot read the shared %s file %s: %s", def_name, path,
			      base_strerror(rc));
		goto out;
	}
	ini_parse(ini, b.data, b.len);
	base_memzero(b.data, b.len);
	base_buf_release(&b);
out:
	free(def);
	return rc;
}

static int profiles_load(struct profiles *pf, struct aws_error *err)
{
	int rc;

	memset(pf, 0, sizeof(*pf));
	rc = load_one("AWS_SHARED_CREDENTIALS_FILE", "credentials", &pf->creds, err);
	if (rc == 0)
		rc = load_one("AWS_CONFIG_FILE", "config", &pf->config, err);
	return rc;
}

static void profiles_release(struct profiles *pf)
{
	ini_release(&pf->creds);
	ini_release(&pf->config);
}

/* A profile key: the credentials file first, then the config file. */
static const char *prof_get(const struct profiles *pf, const char *name, const char *key)
{
	char sect[300];
	const char *v = ini_get(&pf->creds, name, key);

	if (v)
		return v;
	snprintf(sect, sizeof(sect), "profile %s", name);
	v = ini_get(&pf->config, sect, key);
	if (!v && strcmp(name, "default") == 0)
		v = ini_get(&pf->config, "default", key);
	return v;
}

static int prof_exists(const struct profiles *pf, const char *name)
{
	char sect[300];

	snprintf(sect, sizeof(sect), "profile %s", name);
	return ini_has_section(&pf->creds, name) || ini_has_section(&pf->config, sect) ||
	       (strcmp(name, "default") == 0 && ini_has_section(&pf->config, "default"));
}

static const char *profile_name(const struct aws_creds_where *p)
{
	if (p->profile)
		return p->profile;
	if (env("AWS_PROFILE"))
		return env("AWS_PROFILE");
	if (env("AWS_DEFAULT_PROFILE"))
		return env("AWS_DEFAULT_PROFILE");
	return "default";
}

static const char *sts_region(const struct aws_creds_where *p, const struct profiles *pf)
{
	if (p->region)
		return p->region;
	if (env("AWS_REGION"))
		return env("AWS_REGION");
	if (env("AWS_DEFAULT_REGION"))
		return env("AWS_DEFAULT_REGION");
	return pf ? prof_get(pf, profile_name(p), "region") : NULL;
}

/* ---- sources ---- */

static int fetch_env(struct aws_creds *out, struct aws_error *err)
{
	const char *akid = env("AWS_ACCESS_KEY_ID");
	const char *secret = env("AWS_SECRET_ACCESS_KEY");
	const char *token = env("AWS_SESSION_TOKEN");
	const char *exp = env("AWS_CREDENTIAL_EXPIRATION");

	if (!akid)
		return BASE_ENOTFOUND;
	if (!secret) {
		aws_error_set(err, 0, "",
			      "partial credentials: AWS_ACCESS_KEY_ID is set but "
			      "AWS_SECRET_ACCESS_KEY is not");
		return BASE_EINVAL;
	}
	if (!token)
		token = env("AWS_SECURITY_TOKEN");
	memset(out, 0, sizeof(*out));
	if (exp && base_time_parse(exp, &out->expiration_ms) != 0) {
		aws_error_set(err, 0, "", "AWS_CREDENTIAL_EXPIRATION is not an ISO 8601 time");
		return BASE_EINVAL;
	}
	out->access_key_id = xstrdup(akid);
	out->secret_access_key = xstrdup(secret);
	out->session_token = token ? xstrdup(token) : NULL;
	return 0;
}

static char *session_name(const char *configured)
{
	if (configured)
		return xstrdup(configured);
	return xasprintf("globaldb-controller-%lld", (long long)(base_now_real_ms() / 1000));
}

static int web_identity(const char *region, const char *role_arn, const char *token_file,
			const char *sess, struct aws_creds *out, struct aws_error *err)
{
	struct aws_client_config cfg = {0};
	struct aws_client *c;
	struct aws_sts_assumed a;
	char *token = NULL, *name;
	int rc;

	rc = read_token(token_file, &token);
	if (rc < 0) {
		aws_error_set(err, 0, "", "cannot read the web identity token file %s: %s",
			      token_file, base_strerror(rc));
		return rc == BASE_ENOTFOUND ? BASE_EINVAL : rc;
	}
	name = session_name(sess);
	cfg.attempt_timeout_ms = STS_ATTEMPT_TIMEOUT_MS;
	cfg.call_timeout_ms = STS_CALL_TIMEOUT_MS;
	c = aws_client_new(&cfg);
	rc = aws_sts_assume_role_with_web_identity(c, region, role_arn, name, token, 0, &a, err);
	aws_client_free(c);
	free(name);
	base_free_secret(token);
	if (rc < 0)
		return rc;
	*out = a.creds;
	memset(&a.creds, 0, sizeof(a.creds));
	aws_sts_assumed_release(&a);
	return 0;
}

static int fetch_web_identity_env(const struct aws_creds_where *p, const struct profiles *pf,
				  struct aws_creds *out, struct aws_error *err)
{
	const char *name = profile_name(p);
	const char *role = env("AWS_ROLE_ARN");
	const char *file = env("AWS_WEB_IDENTITY_TOKEN_FILE");
	const char *sess = env("AWS_ROLE_SESSION_NAME");

	if (!role)
		role = prof_get(pf, name, "role_arn");
	if (!file)
		file = prof_get(pf, name, "web_identity_token_file");
	if (!sess)
		sess = prof_get(pf, name, "role_session_name");
	if (!role || !file)
		return BASE_ENOTFOUND;
	return web_identity(sts_region(p, pf), role, file, sess, out, err);
}

static int fetch_container(const struct aws_creds_where *p, struct aws_creds *out,
			   struct aws_error *err);
static int fetch_imds(const struct aws_creds_where *p, struct aws_creds *out,
		      struct aws_error *err);

static int static_keys(const struct profiles *pf, const char *name, struct aws_creds *out)
{
	const char *akid = prof_get(pf, name, "aws_access_key_id");
	const char *secret = prof_get(pf, name, "aws_secret_access_key");
	const char *token = prof_get(pf, name, "aws_session_token");

	if (!akid || !secret)
		return BASE_ENOTFOUND;
	if (!token)
		token = prof_get(pf, name, "aws_security_token");
	memset(out, 0, sizeof(*out));
	out->access_key_id = xstrdup(akid);
	out->secret_access_key = xstrdup(secret);
	out->session_token = token ? xstrdup(token) : NULL;
	return 0;
}

/* Credentials of profile name, following role_arn chains (depth-limited). */
static int profile_creds(const struct aws_creds_where *p, const struct profiles *pf,
			 const char *name, int depth, struct aws_creds *out, struct aws_error *err)
{
	const char *role = prof_get(pf, name, "role_arn");
	const char *source = prof_get(pf, name, "source_profile");
	const char *csource = prof_get(pf, name, "credential_source");
	const char *wif = prof_get(pf, name, "web_identity_token_file");
	struct aws_creds src = {0};
	struct aws_creds_provider *sp;
	struct aws_client_config cfg = {0};
	struct aws_client *c;
	struct aws_sts_assumed a;
	char *sess;
	int rc;

	if (depth > MAX_PROFILE_DEPTH) {
		aws_error_set(err, 0, "", "profile %s: source_profile chain deeper than %d", name,
			      MAX_PROFILE_DEPTH);
		return BASE_EINVAL;
	}
	if (!prof_exists(pf, name))
		return BASE_ENOTFOUND;
	if (!role)
		return static_keys(pf, name, out);
	if (wif && !source && !csource)
		return web_identity(sts_region(p, pf), role, wif,
				    prof_get(pf, name, "role_session_name"), out, err);
	if (source) {
		rc = strcmp(source, name) == 0 ? static_keys(pf, name, &src)
					       : profile_creds(p, pf, source, depth + 1, &src, err);
		if (rc == BASE_ENOTFOUND)
			aws_error_set(err, 0, "",
				      "profile %s: source_profile %s has no credentials", name,
				      source);
	} else if (csource && strcmp(csource, "Environment") == 0) {
		rc = fetch_env(&src, err);
	} else if (csource && strcmp(csource, "EcsContainer") == 0) {
		rc = fetch_container(p, &src, err);
	} else if (csource && strcmp(csource, "Ec2InstanceMetadata") == 0) {
		rc = fetch_imds(p, &src, err);
	} else {
		aws_error_set(err, 0, "",
			      "profile %s: role_arn needs source_profile or a known "
			      "credential_source",
			      name);
		return BASE_EINVAL;
	}
	if (rc < 0)
		return rc == BASE_ENOTFOUND ? BASE_EINVAL : rc;

	sp = aws_creds_provider_new_static(src.access_key_id, src.secret_access_key,
					   src.session_token);
	aws_creds_release(&src);
	cfg.creds = sp;
	cfg.attempt_timeout_ms = STS_ATTEMPT_TIMEOUT_MS;
	cfg.call_timeout_ms = STS_CALL_TIMEOUT_MS;
	c = aws_client_new(&cfg);
	sess = session_name(prof_get(pf, name, "role_session_name"));
	rc = aws_sts_assume_role(c, sts_region(p, pf), role, sess,
				 prof_get(pf, name, "external_id"), 0, &a, err);
	free(sess);
	aws_client_free(c);
	aws_creds_provider_free(sp);
	if (rc < 0)
		return rc;
	*out = a.creds;
	memset(&a.creds, 0, sizeof(a.creds));
	aws_sts_assumed_release(&a);
	return 0;
}

static int fetch_assume_role(const struct aws_creds_where *p, const struct profiles *pf,
			     struct aws_creds *out, struct aws_error *err)
{
	const char *name = profile_name(p);

	if (!prof_get(pf, name, "role_arn") ||
	    (!prof_get(pf, name, "source_profile") && !prof_get(pf, name, "credential_source")))
		return BASE_ENOTFOUND;
	return profile_creds(p, pf, name, 0, out, err);
}

static int fetch_profile(const struct aws_creds_where *p, const struct profiles *pf,
			 struct aws_creds *out, struct aws_error *err)
{
	const char *name = profile_name(p);
	int rc = static_keys(pf, name, out);

	/* A profile named explicitly must exist; the implicit "default" may not. */
	if (rc == BASE_ENOTFOUND && strcmp(name, "default") != 0 && !prof_exists(pf, name) &&
	    (p->profile || env("AWS_PROFILE"))) {
		aws_error_set(err, 0, "", "profile %s not found in the shared config files", name);
		return BASE_EINVAL;
	}
	return rc;
}

int aws_creds_decode_json(const char *body, size_t len, const char *what, struct aws_creds *out,
			  struct aws_error *err)
{
	json_t *j = json_loadb(body, len, 0, NULL);
	json_t *akid, *secret, *token, *exp;
	int rc = BASE_EPARSE;

	memset(out, 0, sizeof(*out));
	akid = json_object_get(j, "AccessKeyId");
	secret = json_object_get(j, "SecretAccessKey");
	token = json_object_get(j, "Token");
	exp = json_object_get(j, "Expiration");
	if (!json_is_string(akid) || !json_is_string(secret) || !*json_string_value(akid) ||
	    !*json_string_value(secret)) {
		aws_error_set(err, 200, "", "%s: answer without credentials", what);
		goto out;
	}
	if (json_is_string(exp) && base_time_parse(json_string_value(exp), &out->expiration_ms)) {
		aws_error_set(err, 200, "", "%s: malformed Expiration", what);
		goto out;
	}
	out->access_key_id = xstrdup(json_string_value(akid));
	out->secret_access_key = xstrdup(json_string_value(secret));
	if (json_is_string(token) && *json_string_value(token))
		out->session_token = xstrdup(json_string_value(token));
	rc = 0;
out:
	/* The document held the secret: wipe jansson's copies before freeing. */
	if (json_is_string(secret))
		base_memzero((void *)json_string_value(secret), json_string_length(secret));
	if (json_is_string(token))
		base_memzero((void *)json_string_value(token), json_string_length(token));
	json_decref(j);
	return rc;
}

/* The host of an http(s) URL, without brackets or port, into out. */
static void url_host(const char *url, char *out, size_t n)
{
	const char *a = strstr(url, "://");
	size_t len;

	a = a ? a + 3 : url;
	if (*a == '[') {
		a++;
		len = strcspn(a, "]");
	} else {
		len = strcspn(a, ":/");
	}
	if (len >= n)
		len = n - 1;
	memcpy(out, a, len);
	out[len] = '\0';
}

static int allowed_full_uri(const char *uri)
{
	struct in_addr a4;
	struct in6_addr a6;
	const char *auth = strstr(uri, "://");
	size_t alen;
	char host[256];

	/*
	 * No userinfo (nor a backslash, which parsers read differently) in the
	 * authority: in "http://127.0.0.1:80@evil.example/" the host libcurl
	 * connects to is evil.example, not the address checked below.
	 */
	if (!auth)
		return 0;
	auth += 3;
	alen = strcspn(auth, "/?#");
	if (memchr(auth, '@', alen) || memchr(auth, '\\', alen))
		return 0;
	if (strncmp(uri, "https://", 8) == 0)
		return 1;
	if (strncmp(uri, "http://", 7) != 0)
		return 0;
	url_host(uri, host, sizeof(host));
	/* Literal addresses only: "127.0.0.1.example.com" is a name, not loopback. */
	if (inet_pton(AF_INET, host, &a4) == 1)
		return (ntohl(a4.s_addr) >> 24) == 127 || strcmp(host, "169.254.170.2") == 0 ||
		       strcmp(host, "169.254.170.23") == 0;
	if (inet_pton(AF_INET6, host, &a6) == 1) {
		struct in6_addr ecs;

		inet_pton(AF_INET6, "fd00:ec2::23", &ecs);
		return IN6_IS_ADDR_LOOPBACK(&a6) || memcmp(&a6, &ecs, sizeof(ecs)) == 0;
	}
	return strcmp(host, "localhost") == 0;
}

static int fetch_container(const struct aws_creds_where *p, struct aws_creds *out,
			   struct aws_error *err)
{
	const char *rel = env("AWS_CONTAINER_CREDENTIALS_RELATIVE_URI");
	const char *full = env("AWS_CONTAINER_CREDENTIALS_FULL_URI");
	const char *tfile = env("AWS_CONTAINER_AUTHORIZATION_TOKEN_FILE");
	const char *tenv = env("AWS_CONTAINER_AUTHORIZATION_TOKEN");
	char *url, *token = NULL, *auth = NULL;
	const char *headers[2] = {NULL, NULL};
	struct base_buf b = BASE_BUF_INIT(AWS_CREDS_MAX_HTTP);
	long status = 0;
	int rc;

	if (rel) {
		url = xasprintf("http://169.254.170.2%s%s", rel[0] == '/' ? "" : "/", rel);
	} else if (full) {
		if (!allowed_full_uri(full)) {
			aws_error_set(err, 0, "",
				      "AWS_CONTAINER_CREDENTIALS_FULL_URI must be https "
				      "or a loopback / container-agent host");
			return BASE_EINVAL;
		}
		url = xstrdup(full);
	} else {
		return BASE_ENOTFOUND;
	}
	if (tfile) {
		rc = read_token(tfile, &token);
		if (rc < 0) {
			aws_error_set(err, 0, "",
				      "cannot read the container authorization token "
				      "file %s: %s",
				      tfile, base_strerror(rc));
			rc = rc == BASE_ENOTFOUND ? BASE_EINVAL : rc;
			goto out;
		}
	} else if (tenv) {
		token = xstrdup(tenv);
	}
	if (token) {
		if (strpbrk(token, "\r\n")) {
			aws_error_set(err, 0, "",
				      "the container authorization token contains a "
				      "line break");
			rc = BASE_EINVAL;
			goto out;
		}
		auth = xasprintf("Authorization: %s", token);
		headers[0] = auth;
	}
	for (int attempt = 0; attempt < 3; attempt++) {
		if (attempt)
			base_sleep_ms(1000);
		rc = aws_http_simple("GET", url, headers, NULL,
				     p->http_timeout_ms ? p->http_timeout_ms : 2000,
				     AWS_CREDS_MAX_HTTP, &status, &b);
		if (rc == 0 && status < 500)
			break;
		base_buf_release(&b);
	}
	if (rc < 0) {
		aws_error_set(err, 0, "", "container credentials endpoint: %s", base_strerror(rc));
		goto out;
	}
	if (status != 200) {
		aws_error_set(err, (int)status, "",
			      "container credentials endpoint answered HTTP %ld", status);
		rc = status == 401 || status == 403 ? BASE_EUNAUTHORIZED : BASE_ESERVER;
		goto out;
	}
	rc = aws_creds_decode_json(b.data, b.len, "container credentials endpoint", out, err);
out:
	base_memzero(b.data, b.len);
	base_buf_release(&b);
	base_free_secret(token);
	base_free_secret(auth);
	free(url);
	return rc;
}

static int fetch_imds(const struct aws_creds_where *p, struct aws_creds *out, struct aws_error *err)
{
	const char *disabled = env("AWS_EC2_METADATA_DISABLED");
	const char *ep = env("AWS_EC2_METADATA_SERVICE_ENDPOINT");
	const char *mode = env("AWS_EC2_METADATA_SERVICE_ENDPOINT_MODE");
	int64_t timeout = p->http_timeout_ms ? p->http_timeout_ms : 1000;
	struct base_buf b = BASE_BUF_INIT(AWS_CREDS_MAX_HTTP);
	char *base, *url = NULL, *token = NULL, *hdr = NULL, *role = NULL;
	const char *ttl_hdr[] = {"X-aws-ec2-metadata-token-ttl-seconds: 21600", NULL};
	const char *tok_hdr[2] = {NULL, NULL};
	long status = 0;
	size_t n;
	int rc;

	if (disabled && strcasecmp(disabled, "true") == 0)
		return BASE_ENOTFOUND;
	if (ep)
		base = xstrdup(ep);
	else if (mode && strcasecmp(mode, "IPv6") == 0)
		base = xstrdup("http://[fd00:ec2::254]");
	else
		base = xstrdup("http://169.254.169.254");
	n = strlen(base);
	while (n && base[n - 1] == '/')
		base[--n] = '\0';

	url = xasprintf("%s/latest/api/token", base);
	rc = aws_http_simple("PUT", url, ttl_hdr, "", timeout, 4096, &status, &b);
	free(url);
	url = NULL;
	if (rc < 0 || status != 200 || b.len == 0) {
		/* No IMDSv2 here (not on EC2, or the hop limit is too low). */
		aws_error_set(err, (int)status, "", "instance metadata service unavailable");
		rc = BASE_ENOTFOUND;
		goto out;
	}
	token = base_buf_detach(&b, NULL);
	if (strpbrk(token, "\r\n")) {
		aws_error_set(err, 200, "",
			      "instance metadata: the session token contains a line break");
		rc = BASE_EPARSE;
		goto out;
	}
	hdr = xasprintf("X-aws-ec2-metadata-token: %s", token);
	tok_hdr[0] = hdr;

	url = xasprintf("%s/latest/meta-data/iam/security-credentials/", base);
	rc = aws_http_simple("GET", url, tok_hdr, NULL, timeout, AWS_CREDS_MAX_HTTP, &status, &b);
	free(url);
	url = NULL;
	if (rc < 0 || status != 200 || b.len == 0) {
		aws_error_set(err, (int)status, "", "instance metadata: no IAM role attached");
		rc = BASE_ENOTFOUND;
		goto out;
	}
	role = xstrndup(b.data, strcspn(b.data, "\r\n"));
	base_buf_release(&b);
	if (!*role || strpbrk(role, "/?#% ")) {
		aws_error_set(err, 200, "", "instance metadata: malformed role name");
		rc = BASE_EPARSE;
		goto out;
	}
	url = xasprintf("%s/latest/meta-data/iam/security-credentials/%s", base, role);
	rc = aws_http_simple("GET", url, tok_hdr, NULL, timeout, AWS_CREDS_MAX_HTTP, &status, &b);
	if (rc < 0 || status != 200) {
		aws_error_set(err, (int)status, "",
			      "instance metadata: cannot read the role's "
			      "credentials");
		rc = rc < 0 ? rc : BASE_ESERVER;
		goto out;
	}
	rc = aws_creds_decode_json(b.data, b.len, "instance metadata", out, err);
out:
	base_memzero(b.data, b.len);
	base_buf_release(&b);
	base_free_secret(token);
	base_free_secret(hdr);
	free(role);
	free(url);
	free(base);
	return rc;
}

int aws_creds_fetch(const struct aws_creds_where *p, enum aws_creds_source src,
		    struct aws_creds *out, struct aws_error *err)
{
	struct profiles pf;
	int rc;

	switch (src) {
	case CREDS_SRC_ENV:
		return fetch_env(out, err);
	case CREDS_SRC_CONTAINER:
		return fetch_container(p, out, err);
	case CREDS_SRC_IMDS:
		return fetch_imds(p, out, err);
	case CREDS_SRC_ASSUME_ROLE:
	case CREDS_SRC_WEB_IDENTITY:
	case CREDS_SRC_PROFILE:
		break;
	default:
		return BASE_ENOTFOUND;
	}
	rc = profiles_load(&pf, err);
	if (rc == 0) {
		if (src == CREDS_SRC_ASSUME_ROLE)
			rc = fetch_assume_role(p, &pf, out, err);
		else if (src == CREDS_SRC_WEB_IDENTITY)
			rc = fetch_web_identity_env(p, &pf, out, err);
		else
			rc = fetch_profile(p, &pf, out, err);
	}
	profiles_release(&pf);
	return rc;
}
