/*
 * The credential providers, one test (at least) each: environment, shared
 * files with profiles in a temporary HOME (static keys, and role_arn +
 * source_profile through moto's STS AssumeRole), web identity against moto's
 * STS, container credentials and IMDSv2 against scripted loopback servers;
 * plus caching, concurrent use, and the background refresh on virtual time
 * (callers never wait for a refresh while their credentials are valid).
 * Size: over 800 lines, one provider after another; each section stands alone.
 */
#include <check.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "pkg/aws/client.h"
#include "pkg/aws/creds.h"
#include "pkg/aws/sts.h"
#include "pkg/base/alloc.h"
#include "pkg/base/err.h"
#include "pkg/base/timeutil.h"
#include "tests/aws/harness.h"

static struct moto moto;
static char home[256];

static const char *const aws_vars[] = {
	"AWS_ACCESS_KEY_ID",
	"AWS_SECRET_ACCESS_KEY",
	"AWS_SESSION_TOKEN",
	"AWS_SECURITY_TOKEN",
	"AWS_CREDENTIAL_EXPIRATION",
	"AWS_PROFILE",
	"AWS_DEFAULT_PROFILE",
	"AWS_CONFIG_FILE",
	"AWS_SHARED_CREDENTIALS_FILE",
	"AWS_ROLE_ARN",
	"AWS_WEB_IDENTITY_TOKEN_FILE",
	"AWS_ROLE_SESSION_NAME",
	"AWS_CONTAINER_CREDENTIALS_RELATIVE_URI",
	"AWS_CONTAINER_CREDENTIALS_FULL_URI",
	"AWS_CONTAINER_AUTHORIZATION_TOKEN",
	"AWS_CONTAINER_AUTHORIZATION_TOKEN_FILE",
	"AWS_EC2_METADATA_SERVICE_ENDPOINT",
	"AWS_EC2_METADATA_SERVICE_ENDPOINT_MODE",
	"AWS_REGION",
	"AWS_DEFAULT_REGION",
	"AWS_ENDPOINT_URL",
	"AWS_ENDPOINT_URL_STS",
};

static void write_file(const char *path, const char *text)
{
	FILE *f = fopen(path, "w");

	ck_assert_ptr_nonnull(f);
	fputs(text, f);
	fclose(f);
}

static void setup(void)
{
	char *aws;

	for (size_t i = 0; i < sizeof(aws_vars) / sizeof(aws_vars[0]); i++)
		unsetenv(aws_vars[i]);
	/* Never reach for the real instance metadata address from a test. */
	setenv("AWS_EC2_METADATA_DISABLED", "true", 1);
	snprintf(home, sizeof(home), "/tmp/gdb-aws-creds-XXXXXX");
	ck_assert_ptr_nonnull(mkdtemp(home));
	aws = xasprintf("%s/.aws", home);
	mkdir(aws, 0700);
	free(aws);
	setenv("HOME", home, 1);
}

static void teardown(void)
{
	char *cmd = xasprintf("rm -rf '%s'", home);

	ck_assert_int_eq(system(cmd), 0);
	free(cmd);
}

static char *home_path(const char *rel)
{
	return xasprintf("%s/%s", home, rel);
}

static void write_home(const char *rel, const char *text)
{
	char *path = home_path(rel);

	write_file(path, text);
	free(path);
}

START_TEST(test_environment_credentials)
{
	struct aws_creds_provider *p;
	struct aws_creds c;
	struct aws_error err;

	setenv("AWS_ACCESS_KEY_ID", "AKIDENV", 1);
	setenv("AWS_SECRET_ACCESS_KEY", "envsecret", 1);
	setenv("AWS_SESSION_TOKEN", "envtoken", 1);
	setenv("AWS_CREDENTIAL_EXPIRATION", "2099-01-01T00:00:00Z", 1);
	p = aws_creds_provider_new_chain(NULL);
	ck_assert_int_eq(aws_creds_provider_get(p, &c, &err), 0);
	ck_assert_str_eq(c.access_key_id, "AKIDENV");
	ck_assert_str_eq(c.secret_access_key, "envsecret");
	ck_assert_str_eq(c.session_token, "envtoken");
	ck_assert(c.expiration_ms == 4070908800000LL);
	ck_assert_str_eq(aws_creds_provider_source(p), "environment");
	aws_creds_release(&c);
	ck_assert_ptr_null(c.secret_access_key);
	aws_creds_provider_free(p);
}
END_TEST

START_TEST(test_partial_environment_is_an_error)
{
	struct aws_creds_provider *p;
	struct aws_creds c;
	struct aws_error err;

	setenv("AWS_ACCESS_KEY_ID", "AKIDENV", 1);
	/* Valid keys in the shared file must not be picked silently instead. */
	write_home(".aws/credentials", "[default]\naws_access_key_id = AKIDFILE\n"
				       "aws_secret_access_key = filesecret\n");
	p = aws_creds_provider_new_chain(NULL);
	ck_assert_int_eq(aws_creds_provider_get(p, &c, &err), BASE_EINVAL);
	ck_assert_ptr_nonnull(strstr(err.message, "partial credentials"));
	aws_creds_provider_free(p);
}
END_TEST

START_TEST(test_profiles_from_shared_files)
{
	struct aws_creds_provider *p;
	struct aws_creds c;
	struct aws_error err;
	char *cred = home_path(".aws/credentials");

	write_file(cred, "# comment\n[default]\naws_access_key_id = AKIDDEFAULT\n"
			 "aws_secret_access_key = defsecret\n\n[ops]\n"
			 "aws_access_key_id=AKIDOPS\r\naws_secret_access_key=opssecret\r\n"
			 "aws_session_token = opstoken\n");
	write_home(".aws/config", "[profile cfgonly]\naws_access_key_id = AKIDCFG\n"
				  "aws_secret_access_key = cfgsecret\nregion = eu-west-1\n");
	free(cred);

	p = aws_creds_provider_new_chain(NULL);
	ck_assert_int_eq(aws_creds_provider_get(p, &c, &err), 0);
	ck_assert_str_eq(c.access_key_id, "AKIDDEFAULT");
	ck_assert_str_eq(aws_creds_provider_source(p), "profile");
	aws_creds_release(&c);
	aws_creds_provider_free(p);

	setenv("AWS_PROFILE", "ops", 1);
	p = aws_creds_provider_new_chain(NULL);
	ck_assert_int_eq(aws_creds_provider_get(p, &c, &err), 0);
	ck_assert_str_eq(c.access_key_id, "AKIDOPS");
	ck_assert_str_eq(c.secret_access_key, "opssecret");
	ck_assert_str_eq(c.session_token, "opstoken");
	aws_creds_release(&c);
	aws_creds_provider_free(p);

	p = aws_creds_provider_new_chain(&(struct aws_creds_options){.profile = "cfgonly"});
	ck_assert_int_eq(aws_creds_provider_get(p, &c, &err), 0);
	ck_assert_str_eq(c.access_key_id, "AKIDCFG");
	aws_creds_release(&c);
	aws_creds_provider_free(p);

	setenv("AWS_PROFILE", "nosuch", 1);
	p = aws_creds_provider_new_chain(NULL);
	ck_assert_int_eq(aws_creds_provider_get(p, &c, &err), BASE_EINVAL);
	ck_assert_ptr_nonnull(strstr(err.message, "profile nosuch not found"));
	aws_creds_provider_free(p);
}
END_TEST

START_TEST(test_no_credentials_anywhere)
{
	struct aws_creds_provider *p = aws_creds_provider_new_chain(NULL);
	struct aws_creds c;
	struct aws_error err;

	ck_assert_int_eq(aws_creds_provider_get(p, &c, &err), BASE_ENOTFOUND);
	ck_assert_ptr_nonnull(strstr(err.message, "no AWS credentials found"));
	ck_assert_str_eq(aws_creds_provider_source(p), "none");
	aws_creds_provider_free(p);
}
END_TEST

/* Who the credentials are, according to moto's STS. Caller frees. */
static char *whoami(struct aws_creds_provider *p)
{
	struct aws_client *c = aws_client_new(&(struct aws_client_config){.creds = p});
	struct aws_sts_identity id;
	struct aws_error err;
	char *arn;
	int rc = aws_sts_get_caller_identity(c, "eu-west-1", &id, &err);

	ck_assert_msg(rc == 0, "GetCallerIdentity: %s %s", err.code, err.message);
	arn = xstrdup(id.arn);
	aws_sts_identity_release(&id);
	aws_client_free(c);
	return arn;
}

START_TEST(test_assume_role_profile_via_sts)
{
	struct aws_creds_provider *p;
	struct aws_creds c;
	struct aws_error err;
	char *arn;

	setenv("AWS_ENDPOINT_URL_STS", moto.url, 1);
	write_home(".aws/credentials", "[base]\naws_access_key_id = AKIDBASE\n"
				       "aws_secret_access_key = basesecret\n");
	write_home(".aws/config",
		   "[profile deployer]\nrole_arn = arn:aws:iam::123456789012:role/deployer\n"
		   "source_profile = base\nrole_session_name = gdb-test\nregion = eu-west-1\n");
	setenv("AWS_PROFILE", "deployer", 1);
	p = aws_creds_provider_new_chain(NULL);
	ck_assert_int_eq(aws_creds_provider_get(p, &c, &err), 0);
	ck_assert_str_eq(aws_creds_provider_source(p), "assume-role");
	ck_assert_int_eq(strncmp(c.access_key_id, "ASIA", 4), 0);
	ck_assert_ptr_nonnull(c.session_token);
	ck_assert_int_gt((int)((c.expiration_ms - base_now_real_ms()) / 1000), 600);
	aws_creds_release(&c);
	arn = whoami(p);
	ck_assert_str_eq(arn, "arn:aws:sts::123456789012:assumed-role/deployer/gdb-test");
	free(arn);
	aws_creds_provider_free(p);
}
END_TEST

START_TEST(test_web_identity_via_sts)
{
	struct aws_creds_provider *p;
	struct aws_creds c;
	struct aws_error err;
	char *tok = home_path("token");
	char *arn;

	setenv("AWS_ENDPOINT_URL_STS", moto.url, 1);
	write_file(tok, "eyJhbGciOiJSUzI1NiJ9.eyJzdWIiOiJzeXN0ZW06c2EifQ.c2ln\n");
	setenv("AWS_ROLE_ARN", "arn:aws:iam::123456789012:role/globaldb-controller", 1);
	setenv("AWS_WEB_IDENTITY_TOKEN_FILE", tok, 1);
	setenv("AWS_ROLE_SESSION_NAME", "gdb-pod", 1);
	setenv("AWS_REGION", "eu-west-1", 1);
	p = aws_creds_provider_new_chain(NULL);
	ck_assert_int_eq(aws_creds_provider_get(p, &c, &err), 0);
	ck_assert_str_eq(aws_creds_provider_source(p), "web-identity");
	ck_assert_int_eq(strncmp(c.access_key_id, "ASIA", 4), 0);
	ck_assert_ptr_nonnull(c.session_token);
	aws_creds_release(&c);
	arn = whoami(p);
	ck_assert_str_eq(arn, "arn:aws:sts::123456789012:assumed-role/globaldb-controller/gdb-pod");
	free(arn);
	aws_creds_provider_free(p);

	/* The same from a profile: role_arn + web_identity_token_file. */
	unsetenv("AWS_ROLE_ARN");
	unsetenv("AWS_WEB_IDENTITY_TOKEN_FILE");
	unsetenv("AWS_ROLE_SESSION_NAME");
	{
		char *cfg = xasprintf("[profile irsa]\nrole_arn = arn:aws:iam::123456789012:role/"
				      "from-profile\nweb_identity_token_file = %s\n"
				      "role_session_name = prof-sess\n",
				      tok);

		write_home(".aws/config", cfg);
		free(cfg);
	}
	p = aws_creds_provider_new_chain(&(struct aws_creds_options){.profile = "irsa"});
	ck_assert_int_eq(aws_creds_provider_get(p, &c, &err), 0);
	ck_assert_str_eq(aws_creds_provider_source(p), "web-identity");
	aws_creds_release(&c);
	arn = whoami(p);
	ck_assert_str_eq(arn, "arn:aws:sts::123456789012:assumed-role/from-profile/prof-sess");
	free(arn);
	aws_creds_provider_free(p);
	setenv("AWS_ROLE_ARN", "arn:aws:iam::123456789012:role/globaldb-controller", 1);

	/* A missing token file is a configuration error, not a fall-through. */
	setenv("AWS_WEB_IDENTITY_TOKEN_FILE", "/nonexistent/token", 1);
	p = aws_creds_provider_new_chain(NULL);
	ck_assert_int_eq(aws_creds_provider_get(p, &c, &err), BASE_EINVAL);
	ck_assert_ptr_nonnull(strstr(err.message, "web identity token file"));
	aws_creds_provider_free(p);
	free(tok);
}
END_TEST

/* ---- container and IMDS servers ---- */

struct credsrv {
	int64_t expires_in_s;
	char auth[256];
	char imds_token_seen[256];
	int puts, role_gets, cred_gets;
};

static char *creds_json(int64_t expires_in_s, int n)
{
	char exp[40];

	base_time_format(base_now_real_ms() + expires_in_s * 1000, exp, sizeof(exp));
	return xasprintf(
		"{\"Code\":\"Success\",\"Type\":\"AWS-HMAC\",\"AccessKeyId\":\"ASIACONT%d\","
		"\"SecretAccessKey\":\"contsecret\",\"Token\":\"conttoken\","
		"\"Expiration\":\"%s\"}",
		n, exp);
}

static void container_handler(const struct stub_request *req, struct stub_response *resp, void *ud)
{
	struct credsrv *s = ud;

	stub_header(req, "Authorization", s->auth, sizeof(s->auth));
	if (strcmp(req->target, "/v1/credentials") != 0) {
		resp->status = 404;
		return;
	}
	resp->content_type = "application/json";
	resp->body = creds_json(s->expires_in_s, req->index);
}

START_TEST(test_container_credentials_with_token_file)
{
	struct credsrv srv = {.expires_in_s = 3600};
	struct stub *s = stub_start(container_handler, &srv);
	char *uri = xasprintf("http://127.0.0.1:%d/v1/credentials", stub_port(s));
	char *tok = home_path("pod-identity-token");
	struct aws_creds_provider *p;
	struct aws_creds c;
	struct aws_error err;

	write_file(tok, "pod-identity-jwt\n");
	setenv("AWS_CONTAINER_CREDENTIALS_FULL_URI", uri, 1);
	setenv("AWS_CONTAINER_AUTHORIZATION_TOKEN_FILE", tok, 1);
	setenv("AWS_CONTAINER_AUTHORIZATION_TOKEN", "loses-to-the-file", 1);
	p = aws_creds_provider_new_chain(NULL);
	ck_assert_int_eq(aws_creds_provider_get(p, &c, &err), 0);
	ck_assert_str_eq(aws_creds_provider_source(p), "container");
	ck_assert_str_eq(c.access_key_id, "ASIACONT0");
	ck_assert_str_eq(c.secret_access_key, "contsecret");
	ck_assert_str_eq(c.session_token, "conttoken");
	ck_assert_str_eq(srv.auth, "pod-identity-jwt");
	aws_creds_release(&c);

	/* Cached while far from expiry: no second fetch. */
	ck_assert_int_eq(aws_creds_provider_get(p, &c, &err), 0);
	ck_assert_str_eq(c.access_key_id, "ASIACONT0");
	ck_assert_int_eq(stub_count(s), 1);
	aws_creds_release(&c);

	/* After ExpiredToken the client drops them; the file is read again. */
	write_file(tok, "rotated-jwt");
	aws_creds_provider_expire(p);
	ck_assert_int_eq(aws_creds_provider_get(p, &c, &err), 0);
	ck_assert_str_eq(c.access_key_id, "ASIACONT1");
	ck_assert_str_eq(srv.auth, "rotated-jwt");
	aws_creds_release(&c);
	aws_creds_provider_free(p);

	/* Plain http to a non-loopback host is refused before any traffic. */
	{
		const char *refused[] = {
			"http://192.0.2.10/creds", "http://127.0.0.1.example.com/c",
			"http://localhost.example.com/c", "ftp://127.0.0.1/c",
			/* userinfo: libcurl would connect to evil.example */
			"http://127.0.0.1:80@evil.example/creds",
			"http://169.254.170.23:x@evil.example/", "http://[::1]@evil.example/",
			"http://localhost:1@evil.example/"};

		for (size_t i = 0; i < sizeof(refused) / sizeof(refused[0]); i++) {
			setenv("AWS_CONTAINER_CREDENTIALS_FULL_URI", refused[i], 1);
			p = aws_creds_provider_new_chain(NULL);
			ck_assert_msg(aws_creds_provider_get(p, &c, &err) == BASE_EINVAL, "%s",
				      refused[i]);
			aws_creds_provider_free(p);
		}
	}
	stub_stop(s);
	free(uri);
	free(tok);
}
END_TEST

START_TEST(test_container_token_from_the_environment)
{
	struct credsrv srv = {.expires_in_s = 3600};
	struct stub *s = stub_start(container_handler, &srv);
	char *uri = xasprintf("http://127.0.0.1:%d/v1/credentials", stub_port(s));
	struct aws_creds_provider *p;
	struct aws_creds c;
	struct aws_error err;

	setenv("AWS_CONTAINER_CREDENTIALS_FULL_URI", uri, 1);
	setenv("AWS_CONTAINER_AUTHORIZATION_TOKEN", "static-token", 1);
	p = aws_creds_provider_new_chain(&(struct aws_creds_options){.http_timeout_ms = 500});
	ck_assert_int_eq(aws_creds_provider_get(p, &c, &err), 0);
	ck_assert_str_eq(c.access_key_id, "ASIACONT0");
	ck_assert_str_eq(srv.auth, "static-token");
	aws_creds_release(&c);
	aws_creds_provider_free(p);
	stub_stop(s);
	free(uri);
}
END_TEST

static void imds_handler(const struct stub_request *req, struct stub_response *resp, void *ud)
{
	struct credsrv *s = ud;
	char ttl[32], tok[256];

	if (strcmp(req->method, "PUT") == 0 && strcmp(req->target, "/latest/api/token") == 0) {
		stub_header(req, "X-aws-ec2-metadata-token-ttl-seconds", ttl, sizeof(ttl));
		s->puts++;
		resp->status = strcmp(ttl, "21600") == 0 ? 200 : 400;
		resp->body = xstrdup("imds-session-token");
		return;
	}
	stub_header(req, "X-aws-ec2-metadata-token", tok, sizeof(tok));
	snprintf(s->imds_token_seen, sizeof(s->imds_token_seen), "%s", tok);
	if (strcmp(tok, "imds-session-token") != 0) {
		resp->status = 401;
		return;
	}
	if (strcmp(req->target, "/latest/meta-data/iam/security-credentials/") == 0) {
		s->role_gets++;
		resp->body = xstrdup("gdb-node-role\n");
	} else if (strcmp(req->target,
			  "/latest/meta-data/iam/security-credentials/gdb-node-role") == 0) {
		s->cred_gets++;
		resp->body = creds_json(s->expires_in_s, req->index);
	} else {
		resp->status = 404;
	}
}

START_TEST(test_imdsv2_credentials)
{
	struct credsrv srv = {.expires_in_s = 6 * 3600};
	struct stub *s = stub_start(imds_handler, &srv);
	char *ep = xasprintf("http://127.0.0.1:%d", stub_port(s));
	struct aws_creds_provider *p;
	struct aws_creds c;
	struct aws_error err;

	unsetenv("AWS_EC2_METADATA_DISABLED");
	setenv("AWS_EC2_METADATA_SERVICE_ENDPOINT", ep, 1);
	p = aws_creds_provider_new_chain(NULL);
	ck_assert_int_eq(aws_creds_provider_get(p, &c, &err), 0);
	ck_assert_str_eq(aws_creds_provider_source(p), "imds");
	ck_assert_str_eq(c.access_key_id, "ASIACONT2");
	ck_assert_str_eq(c.session_token, "conttoken");
	ck_assert_int_gt((int)((c.expiration_ms - base_now_real_ms()) / 1000), 5 * 3600);
	ck_assert_int_eq(srv.puts, 1);
	ck_assert_int_eq(srv.role_gets, 1);
	ck_assert_int_eq(srv.cred_gets, 1);
	ck_assert_str_eq(srv.imds_token_seen, "imds-session-token");
	aws_creds_release(&c);
	aws_creds_provider_free(p);
	stub_stop(s);
	free(ep);
}
END_TEST

static void imds_crlf_handler(const struct stub_request *req, struct stub_response *resp, void *ud)
{
	(void)ud;
	if (strcmp(req->method, "PUT") == 0) {
		resp->body = xstrdup("tok\r\nX-Injected: 1");
		return;
	}
	resp->body = creds_json(3600, req->index);
}

START_TEST(test_imds_token_with_a_line_break_is_refused)
{
	struct stub *s = stub_start(imds_crlf_handler, NULL);
	char *ep = xasprintf("http://127.0.0.1:%d", stub_port(s));
	struct aws_creds_provider *p;
	struct aws_creds c;
	struct aws_error err;

	unsetenv("AWS_EC2_METADATA_DISABLED");
	setenv("AWS_EC2_METADATA_SERVICE_ENDPOINT", ep, 1);
	p = aws_creds_provider_new_chain(NULL);
	ck_assert_int_eq(aws_creds_provider_get(p, &c, &err), BASE_EPARSE);
	ck_assert_ptr_nonnull(strstr(err.message, "line break"));
	ck_assert_int_eq(stub_count(s), 1); /* the token never went into a header */
	aws_creds_provider_free(p);
	stub_stop(s);
	free(ep);
}
END_TEST

struct racer {
	struct aws_creds_provider *p;
	int ok;
};

static void *race(void *arg)
{
	struct racer *r = arg;

	for (int i = 0; i < 20; i++) {
		struct aws_creds c;

		if (aws_creds_provider_get(r->p, &c, NULL) == 0 &&
		    strcmp(c.access_key_id, "ASIACONT0") == 0)
			r->ok++;
		aws_creds_release(&c);
	}
	return NULL;
}

START_TEST(test_concurrent_gets_fetch_once)
{
	struct credsrv srv = {.expires_in_s = 3600};
	struct stub *s = stub_start(container_handler, &srv);
	char *uri = xasprintf("http://127.0.0.1:%d/v1/credentials", stub_port(s));
	pthread_t t[8];
	struct racer r[8];

	setenv("AWS_CONTAINER_CREDENTIALS_FULL_URI", uri, 1);
	r[0].p = aws_creds_provider_new_chain(NULL);
	for (int i = 0; i < 8; i++) {
		r[i] = (struct racer){r[0].p, 0};
		pthread_create(&t[i], NULL, race, &r[i]);
	}
	for (int i = 0; i < 8; i++) {
		pthread_join(t[i], NULL);
		ck_assert_int_eq(r[i].ok, 20);
	}
	ck_assert_int_eq(stub_count(s), 1);
	aws_creds_provider_free(r[0].p);
	stub_stop(s);
	free(uri);
}
END_TEST

/* ---- background refresh, on virtual time ---- */

/* Virtual time: the provider's refresh schedule and backoff jitter read it. */
struct vclock {
	_Atomic int64_t now;
	uint64_t rand;
};

static int64_t vclock_now(void *ud)
{
	return ((struct vclock *)ud)->now;
}

static void vclock_sleep(void *ud, int64_t ms)
{
	((struct vclock *)ud)->now += ms;
}

static uint64_t vclock_rand(void *ud)
{
	return ((struct vclock *)ud)->rand;
}

/* A container-credentials endpoint whose answers can be held at a gate, or refused. */
struct gated {
	pthread_mutex_t mu;
	pthread_cond_t cv;
	int64_t expires_at_ms; /* the Expiration handed out (Unix ms) */
	int hold;	       /* requests wait at the gate while set */
	int held;	       /* a request is waiting at the gate */
	int refuse;	       /* answer 403 */
};

static void gated_handler(const struct stub_request *req, struct stub_response *resp, void *ud)
{
	struct gated *g = ud;
	char exp[40];
	int refuse;
	int64_t at;

	pthread_mutex_lock(&g->mu);
	while (g->hold) {
		g->held = 1;
		pthread_cond_broadcast(&g->cv);
		pthread_cond_wait(&g->cv, &g->mu);
	}
	g->held = 0;
	refuse = g->refuse;
	at = g->expires_at_ms;
	pthread_mutex_unlock(&g->mu);
	if (refuse) {
		resp->status = 403;
		return;
	}
	base_time_format(at, exp, sizeof(exp));
	resp->content_type = "application/json";
	resp->body = xasprintf("{\"AccessKeyId\":\"ASIAGATE%d\",\"SecretAccessKey\":\"gatesecret\","
			       "\"Token\":\"gatetoken\",\"Expiration\":\"%s\"}",
			       req->index, exp);
}

static void gate_set(struct gated *g, int hold, int refuse, int64_t expires_at_ms)
{
	pthread_mutex_lock(&g->mu);
	g->hold = hold;
	g->refuse = refuse;
	g->expires_at_ms = expires_at_ms;
	pthread_cond_broadcast(&g->cv);
	pthread_mutex_unlock(&g->mu);
}

/* Waits (real time, 30 s at most) until a request is held at the gate. */
static int gate_wait_held(struct gated *g)
{
	int64_t deadline = base_now_mono_ms() + 30000;
	int held;

	pthread_mutex_lock(&g->mu);
	while (!g->held && base_now_mono_ms() < deadline)
		base_cond_wait_ms(&g->cv, &g->mu, 100);
	held = g->held;
	pthread_mutex_unlock(&g->mu);
	return held;
}

/* Waits (real time, 30 s at most) until the provider has finished n fetches. */
static void wait_attempts(struct aws_creds_provider *p, uint64_t n, struct aws_creds_stats *st)
{
	int64_t deadline = base_now_mono_ms() + 30000;

	for (;;) {
		aws_creds_provider_stats(p, st);
		if ((st->attempts >= n && !st->refreshing) || base_now_mono_ms() > deadline)
			break;
		base_sleep_ms(5);
	}
	ck_assert_msg(st->attempts >= n && !st->refreshing, "fetch %llu did not finish",
		      (unsigned long long)n);
}

struct getter {
	struct aws_creds_provider *p;
	pthread_mutex_t mu;
	pthread_cond_t cv;
	int done, rc;
	struct aws_creds c;
};

static void *getter_run(void *arg)
{
	struct getter *g = arg;
	struct aws_creds c;
	int rc = aws_creds_provider_get(g->p, &c, NULL);

	pthread_mutex_lock(&g->mu);
	g->c = c;
	g->rc = rc;
	g->done = 1;
	pthread_cond_broadcast(&g->cv);
	pthread_mutex_unlock(&g->mu);
	return NULL;
}

/* A get from another thread; 1 if it answered within 10 s (real time). */
static int get_answers(struct getter *g)
{
	pthread_t t;
	int64_t deadline = base_now_mono_ms() + 10000;
	int done;

	g->done = 0;
	pthread_create(&t, NULL, getter_run, g);
	pthread_mutex_lock(&g->mu);
	while (!g->done && base_now_mono_ms() < deadline)
		base_cond_wait_ms(&g->cv, &g->mu, 100);
	done = g->done;
	pthread_mutex_unlock(&g->mu);
	if (done)
		pthread_join(t, NULL);
	else
		pthread_detach(t);
	return done;
}

START_TEST(test_callers_are_not_blocked_by_a_slow_refresh)
{
	struct vclock v = {.now = 1000000};
	struct base_clock clk = {vclock_now, vclock_sleep, vclock_rand, &v};
	struct gated srv = {.mu = PTHREAD_MUTEX_INITIALIZER, .cv = PTHREAD_COND_INITIALIZER};
	struct stub *s = stub_start(gated_handler, &srv);
	char *uri = xasprintf("http://127.0.0.1:%d/v1/credentials", stub_port(s));
	struct getter g = {.mu = PTHREAD_MUTEX_INITIALIZER, .cv = PTHREAD_COND_INITIALIZER};
	struct aws_creds_stats st;
	struct aws_creds c;
	int64_t t0 = base_now_real_ms() / 1000 * 1000; /* the wire format has whole seconds */

	gate_set(&srv, 0, 0, t0 + 60 * 60 * 1000);
	setenv("AWS_CONTAINER_CREDENTIALS_FULL_URI", uri, 1);
	/* A long attempt timeout: the held fetch stays in flight until the gate opens. */
	g.p = aws_creds_provider_new_chain(
		&(struct aws_creds_options){.http_timeout_ms = 60000, .clock = &clk});
	ck_assert_int_eq(aws_creds_provider_get(g.p, &c, NULL), 0);
	ck_assert_str_eq(c.access_key_id, "ASIAGATE0");
	aws_creds_release(&c);
	aws_creds_provider_stats(g.p, &st);
	ck_assert_int_eq(st.next_refresh_ms, t0 + 45 * 60 * 1000); /* 15 minutes before expiry */

	/* 46 minutes on, 14 left: the refresh starts and the endpoint holds it. */
	gate_set(&srv, 1, 0, t0 + 2 * 60 * 60 * 1000);
	v.now += 46 * 60 * 1000;
	ck_assert_msg(get_answers(&g), "a caller waited for the refresh");
	ck_assert_int_eq(g.rc, 0);
	ck_assert_str_eq(g.c.access_key_id, "ASIAGATE0");
	aws_creds_release(&g.c);
	ck_assert(gate_wait_held(&srv));
	/* Every caller keeps the valid credentials while the one fetch is held. */
	for (int i = 0; i < 5; i++) {
		ck_assert_msg(get_answers(&g), "a caller waited for the refresh");
		ck_assert_str_eq(g.c.access_key_id, "ASIAGATE0");
		aws_creds_release(&g.c);
	}
	aws_creds_provider_stats(g.p, &st);
	ck_assert_int_eq(st.refreshing, 1);
	ck_assert_int_eq(st.attempts, 1);

	/* The endpoint answers: the new credentials replace the old ones. */
	gate_set(&srv, 0, 0, t0 + 2 * 60 * 60 * 1000);
	wait_attempts(g.p, 2, &st);
	ck_assert_int_eq(st.failures, 0);
	ck_assert_int_eq(st.expiration_ms, t0 + 2 * 60 * 60 * 1000);
	ck_assert_int_eq(aws_creds_provider_get(g.p, &c, NULL), 0);
	ck_assert_str_eq(c.access_key_id, "ASIAGATE1");
	aws_creds_release(&c);
	ck_assert_int_eq(stub_count(s), 2);
	aws_creds_provider_free(g.p);
	stub_stop(s);
	free(uri);
}
END_TEST

START_TEST(test_valid_credentials_are_used_until_expiry_with_backoff)
{
	struct vclock v = {.now = 1000000};
	struct base_clock clk = {vclock_now, vclock_sleep, vclock_rand, &v};
	struct gated srv = {.mu = PTHREAD_MUTEX_INITIALIZER, .cv = PTHREAD_COND_INITIALIZER};
	struct stub *s = stub_start(gated_handler, &srv);
	char *uri = xasprintf("http://127.0.0.1:%d/v1/credentials", stub_port(s));
	struct aws_creds_provider *p;
	struct aws_creds_stats st;
	struct aws_creds c;
	struct aws_error err;
	int64_t t0 = base_now_real_ms(), exp = t0 + 20 * 60 * 1000;

	exp -= exp % 1000; /* the wire format has whole seconds */
	gate_set(&srv, 0, 0, exp);
	setenv("AWS_CONTAINER_CREDENTIALS_FULL_URI", uri, 1);
	p = aws_creds_provider_new_chain(&(struct aws_creds_options){.clock = &clk});
	ck_assert_int_eq(aws_creds_provider_get(p, &c, &err), 0);
	aws_creds_release(&c);

	/* They live 20 min: the refresh is due halfway, and the endpoint refuses it. */
	gate_set(&srv, 0, 1, exp);
	v.now += 11 * 60 * 1000;
	ck_assert_int_eq(aws_creds_provider_get(p, &c, &err), 0);
	ck_assert_str_eq(c.access_key_id, "ASIAGATE0");
	aws_creds_release(&c);
	wait_attempts(p, 2, &st);
	ck_assert_int_eq(st.failures, 1);
	/* Backoff: no attempt for 1 s (rand is 0: no jitter), then the next one. */
	v.now += 999;
	ck_assert_int_eq(aws_creds_provider_get(p, &c, &err), 0);
	aws_creds_release(&c);
	aws_creds_provider_stats(p, &st);
	ck_assert_int_eq(st.refreshing, 0);
	ck_assert_int_eq(st.attempts, 2);
	v.now += 1;
	ck_assert_int_eq(aws_creds_provider_get(p, &c, &err), 0);
	aws_creds_release(&c);
	wait_attempts(p, 3, &st);
	ck_assert_int_eq(st.failures, 2);

	/* Five seconds before expiry, with the endpoint still refusing: still served. */
	v.now += 9 * 60 * 1000 - 6000;
	ck_assert_int_eq(aws_creds_provider_get(p, &c, &err), 0);
	ck_assert_str_eq(c.access_key_id, "ASIAGATE0");
	aws_creds_release(&c);
	wait_attempts(p, 4, &st);

	/* Expired: the call waits for a fetch (backoff or not), and its failure is the call's. */
	v.now += 6000;
	ck_assert_int_eq(aws_creds_provider_get(p, &c, &err), BASE_EUNAUTHORIZED);
	ck_assert_ptr_null(c.access_key_id);
	ck_assert_ptr_nonnull(strstr(err.message, "HTTP 403"));
	ck_assert_ptr_null(strstr(err.message, "gatesecret"));

	/* The endpoint recovers: the next call gets fresh credentials. */
	gate_set(&srv, 0, 0, exp + 60 * 60 * 1000);
	ck_assert_int_eq(aws_creds_provider_get(p, &c, &err), 0);
	ck_assert_str_ne(c.access_key_id, "ASIAGATE0");
	aws_creds_release(&c);
	aws_creds_provider_free(p);
	stub_stop(s);
	free(uri);
}
END_TEST

START_TEST(test_credentials_expired_on_arrival_are_not_refetched_in_a_loop)
{
	struct vclock v = {.now = 1000000};
	struct base_clock clk = {vclock_now, vclock_sleep, vclock_rand, &v};
	struct gated srv = {.mu = PTHREAD_MUTEX_INITIALIZER, .cv = PTHREAD_COND_INITIALIZER};
	struct stub *s = stub_start(gated_handler, &srv);
	char *uri = xasprintf("http://127.0.0.1:%d/v1/credentials", stub_port(s));
	struct aws_creds_provider *p;
	struct aws_creds_stats st;
	struct aws_creds c;
	int64_t t0 = base_now_real_ms(), t1;

	/* Keys that expired an hour ago (a clock an hour behind at the endpoint). */
	gate_set(&srv, 0, 0, t0 - 60 * 60 * 1000);
	setenv("AWS_CONTAINER_CREDENTIALS_FULL_URI", uri, 1);
	p = aws_creds_provider_new_chain(&(struct aws_creds_options){.clock = &clk});
	ck_assert_int_eq(aws_creds_provider_get(p, &c, NULL), 0);
	t1 = base_now_real_ms();
	aws_creds_release(&c);
	/* The background refresh backs off instead of fetching again at once. */
	aws_creds_provider_stats(p, &st);
	ck_assert_int_eq(st.attempts, 1);
	ck_assert_int_ge(st.next_refresh_ms, t0 + 1000);
	ck_assert_int_le(st.next_refresh_ms, t1 + 1000);
	aws_creds_provider_free(p);
	stub_stop(s);
	free(uri);
}
END_TEST

int main(void)
{
	Suite *s = suite_create("aws_creds");
	TCase *tc = tcase_create("providers");
	SRunner *sr;
	int failed;

	if (moto_start(&moto) != 0) {
		fprintf(stderr, "cannot start moto_server\n");
		return 1;
	}
	tcase_add_checked_fixture(tc, setup, teardown);
	tcase_set_timeout(tc, 60);
	tcase_add_test(tc, test_environment_credentials);
	tcase_add_test(tc, test_partial_environment_is_an_error);
	tcase_add_test(tc, test_profiles_from_shared_files);
	tcase_add_test(tc, test_no_credentials_anywhere);
	tcase_add_test(tc, test_assume_role_profile_via_sts);
	tcase_add_test(tc, test_web_identity_via_sts);
	tcase_add_test(tc, test_container_credentials_with_token_file);
	tcase_add_test(tc, test_container_token_from_the_environment);
	tcase_add_test(tc, test_imdsv2_credentials);
	tcase_add_test(tc, test_imds_token_with_a_line_break_is_refused);
	tcase_add_test(tc, test_concurrent_gets_fetch_once);
	tcase_add_test(tc, test_callers_are_not_blocked_by_a_slow_refresh);
	tcase_add_test(tc, test_valid_credentials_are_used_until_expiry_with_backoff);
	tcase_add_test(tc, test_credentials_expired_on_arrival_are_not_refetched_in_a_loop);
	suite_add_tcase(s, tc);
	sr = srunner_create(s);
	srunner_run_all(sr, CK_NORMAL);
	failed = srunner_ntests_failed(sr);
	srunner_free(sr);
	moto_stop(&moto);
	return failed ? 1 : 0;
}
