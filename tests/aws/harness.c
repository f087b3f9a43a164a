/*
 * Test harness: moto as a child process, and a small threaded HTTP/1.1 server
 * that answers each request from a handler and closes the connection.
 */
#include "tests/aws/harness.h"

#include "pkg/aws/client.h"
#include "pkg/aws/creds.h"

#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <poll.h>
#include <pthread.h>
#include <signal.h>
#include <spawn.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include "pkg/aws/client.h"
#include "pkg/base/alloc.h"
#include "pkg/base/buf.h"
#include "pkg/base/timeutil.h"

extern char **environ;

static int free_port(void)
{
	struct sockaddr_in a = {0};
	socklen_t len = sizeof(a);
	int fd = socket(AF_INET, SOCK_STREAM, 0), port = -1;

	a.sin_family = AF_INET;
	a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	if (fd >= 0 && bind(fd, (struct sockaddr *)&a, sizeof(a)) == 0 &&
	    getsockname(fd, (struct sockaddr *)&a, &len) == 0)
		port = ntohs(a.sin_port);
	if (fd >= 0)
		close(fd);
	return port;
}

int moto_admin(const struct moto *m, const char *path)
{
	struct base_buf b;
	long status = 0;
	char *url = xasprintf("%s%s", m->url, path);
	int rc = aws_http_simple("POST", url, NULL, "", 5000, 1 << 20, &status, &b);

	free(url);
	base_buf_release(&b);
	return rc < 0 ? -1 : (int)status;
}

static int moto_alive(const struct moto *m)
{
	struct base_buf b;
	long status = 0;
	char *url = xasprintf("%s/moto-api/data.json", m->url);
	int rc = aws_http_simple("GET", url, NULL, NULL, 1000, 8 << 20, &status, &b);

	free(url);
	base_buf_release(&b);
	return rc == 0 && status == 200;
}

int moto_start(struct moto *m)
{
	const char *py = getenv("GDB_PYTHON");
	char *bin, *slash, port[16];
	int tries;

	memset(m, 0, sizeof(*m));
	if (!py)
		return -1;
	bin = xstrdup(py);
	slash = strrchr(bin, '/');
	if (!slash) {
		free(bin);
		return -1;
	}
	*slash = '\0';
	slash = xasprintf("%s/moto_server", bin);
	free(bin);
	bin = slash;
	for (tries = 0; tries < 3; tries++) {
		char *argv[] = {bin, "-H", "127.0.0.1", "-p", port, NULL};
		posix_spawn_file_actions_t fa;
		int64_t deadline;

		m->port = free_port();
		snprintf(port, sizeof(port), "%d", m->port);
		snprintf(m->url, sizeof(m->url), "http://127.0.0.1:%d", m->port);
		posix_spawn_file_actions_init(&fa);
		posix_spawn_file_actions_addopen(&fa, 1, "/dev/null", 01, 0);
		posix_spawn_file_actions_addopen(&fa, 2, "/dev/null", 01, 0);
		if (posix_spawn(&m->pid, bin, &fa, NULL, argv, environ) != 0) {
			posix_spawn_file_actions_destroy(&fa);
			break;
		}
		posix_spawn_file_actions_destroy(&fa);
		deadline = base_now_mono_ms() + 30000;
		while (base_now_mono_ms() < deadline) {
			int st;

			if (moto_alive(m)) {
				free(bin);
				return 0;
			}
			if (waitpid(m->pid, &st, WNOHANG) == m->pid) {
				m->pid = 0;
				break; /* the port was taken: try another */
			}
			base_sleep_ms(100);
		}
		moto_stop(m);
	}
	free(bin);
	return -1;
}

int awsemu_admin(const struct moto *m, const char *path, const char *json)
{
	const char *hdrs[] = {"Content-Type: application/json", NULL};
	struct base_buf b;
	long status = 0;
	char *url = xasprintf("%s%s", m->url, path);
	int rc = aws_http_simple("POST", url, hdrs, json, 5000, 1 << 20, &status, &b);

	free(url);
	base_buf_release(&b);
	return rc < 0 ? -1 : (int)status;
}

int awsemu_start(struct moto *m)
{
	const char *py = getenv("GDB_PYTHON"), *src = getenv("GDB_SOURCE_DIR");
	char dir[] = "/tmp/gdb-awsemu-XXXXXX";
	char *urlfile, *pypath;
	char *argv[8];
	posix_spawn_file_actions_t fa;
	int64_t deadline;
	int rc = -1;

	memset(m, 0, sizeof(*m));
	if (!py || !src || !mkdtemp(dir))
		return -1;
	urlfile = xasprintf("%s/url", dir);
	pypath = xasprintf("%s/tests/env", src);
	setenv("PYTHONPATH", pypath, 1);
	argv[0] = (char *)py;
	argv[1] = "-m";
	argv[2] = "awsemu";
	argv[3] = "--fast";
	argv[4] = "--url-file";
	argv[5] = urlfile;
	argv[6] = NULL;
	posix_spawn_file_actions_init(&fa);
	posix_spawn_file_actions_addopen(&fa, 1, "/dev/null", 01, 0);
	posix_spawn_file_actions_addopen(&fa, 2, "/dev/null", 01, 0);
	if (posix_spawn(&m->pid, py, &fa, NULL, argv, environ) != 0)
		goto out;
	deadline = base_now_mono_ms() + 60000;
	while (base_now_mono_ms() < deadline) {
		FILE *f = fopen(urlfile, "r");
		int st;

		if (f) {
			if (fgets(m->url, sizeof(m->url), f))
				m->url[strcspn(m->url, "\r\n")] = '\0';
			fclose(f);
			if (m->url[0]) {
				char *health = xasprintf("%s/_awsemu/health", m->url);
				struct base_buf b;
				long status = 0;
				int hrc = aws_http_simple("GET", health, NULL, NULL, 1000, 4096,
							  &status, &b);

				free(health);
				base_buf_release(&b);
				if (hrc == 0 && status == 200) {
					rc = 0;
					break;
				}
			}
		}
		if (waitpid(m->pid, &st, WNOHANG) == m->pid) {
			m->pid = 0;
			break;
		}
		base_sleep_ms(100);
	}
out:
	posix_spawn_file_actions_destroy(&fa);
	if (rc < 0)
		moto_stop(m);
	unlink(urlfile);
	rmdir(dir);
	free(urlfile);
	free(pypath);
	return rc;
}

static const char tls_server_py[] =
	"import http.server, ssl, sys\n"
	"ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)\n"
	"ctx.load_cert_chain(sys.argv[1], sys.argv[2])\n"
	"srv = http.server.HTTPServer(('127.0.0.1', 0), http.server.BaseHTTPRequestHandler)\n"
	"srv.socket = ctx.wrap_socket(srv.socket, server_side=True)\n"
	"open(sys.argv[3] + '.tmp', 'w').write(str(srv.server_address[1]))\n"
	"import os; os.replace(sys.argv[3] + '.tmp', sys.argv[3])\n"
	"srv.serve_forever()\n";

int tls_server_start(struct moto *m)
{
	const char *py = getenv("GDB_PYTHON");
	char dir[] = "/tmp/gdb-aws-tls-XXXXXX";
	char *cert, *key, *portfile, *cmd;
	posix_spawn_file_actions_t fa;
	int64_t deadline;
	int rc = -1;

	memset(m, 0, sizeof(*m));
	if (!py || !mkdtemp(dir))
		return -1;
	cert = xasprintf("%s/cert.pem", dir);
	key = xasprintf("%s/key.pem", dir);
	portfile = xasprintf("%s/port", dir);
	cmd = xasprintf("openssl req -x509 -newkey rsa:2048 -nodes -days 1 -subj /CN=127.0.0.1 "
			"-keyout %s -out %s >/dev/null 2>&1",
			key, cert);
	if (system(cmd) == 0) {
		char *argv[] = {(char *)py, "-c", (char *)tls_server_py, cert, key, portfile, NULL};

		posix_spawn_file_actions_init(&fa);
		posix_spawn_file_actions_addopen(&fa, 1, "/dev/null", 01, 0);
		posix_spawn_file_actions_addopen(&fa, 2, "/dev/null", 01, 0);
		if (posix_spawn(&m->pid, py, &fa, NULL, argv, environ) == 0) {
			deadline = base_now_mono_ms() + 20000;
			while (rc < 0 && base_now_mono_ms() < deadline) {
				FILE *f = fopen(portfile, "r");

				if (f) {
					if (fscanf(f, "%d", &m->port) == 1) {
						snprintf(m->url, sizeof(m->url),
							 "https://127.0.0.1:%d", m->port);
						rc = 0;
					}
					fclose(f);
				}
				if (rc < 0)
					base_sleep_ms(50);
			}
		}
		posix_spawn_file_actions_destroy(&fa);
	}
	if (rc < 0)
		moto_stop(m);
	free(cmd);
	/* The server has loaded its certificate; the files can go. */
	unlink(cert);
	unlink(key);
	unlink(portfile);
	rmdir(dir);
	free(cert);
	free(key);
	free(portfile);
	return rc;
}

void moto_stop(struct moto *m)
{
	int st;

	if (m->pid > 0) {
		kill(m->pid, SIGTERM);
		waitpid(m->pid, &st, 0);
	}
	m->pid = 0;
}

/* ---- stub ---- */

struct stub {
	int fd;
	int port;
	pthread_t thread;
	pthread_mutex_t lock;
	int stop;
	int count;
	stub_handler handler;
	void *ud;
};

const char *stub_header(const struct stub_request *req, const char *name, char *out, size_t n)
{
	size_t nl = strlen(name);
	const char *p = req->headers;

	out[0] = '\0';
	while (*p) {
		const char *e = strstr(p, "\r\n");
		size_t ll = e ? (size_t)(e - p) : strlen(p);

		if (ll > nl && strncasecmp(p, name, nl) == 0 && p[nl] == ':') {
			const char *v = p + nl + 1;
			size_t vl;

			while (*v == ' ')
				v++;
			vl = ll - (size_t)(v - p);
			if (vl >= n)
				vl = n - 1;
			memcpy(out, v, vl);
			out[vl] = '\0';
			return out;
		}
		if (!e)
			break;
		p = e + 2;
	}
	return out;
}

static void serve(struct stub *s, int cfd)
{
	struct base_buf in = BASE_BUF_INIT(4 << 20), out = BASE_BUF_INIT(0);
	struct stub_request req;
	struct stub_response resp = {0};
	char chunk[4096], cl[32];
	char *hend = NULL;
	size_t need = 0, hlen;
	ssize_t n;

	memset(&req, 0, sizeof(req));
	for (;;) {
		n = recv(cfd, chunk, sizeof(chunk), 0);
		if (n <= 0)
			goto out;
		if (base_buf_add(&in, chunk, (size_t)n) < 0)
			goto out;
		if (!hend && (hend = strstr(in.data, "\r\n\r\n")) != NULL) {
			char *line_end = strstr(in.data, "\r\n");
			char *sp1 = memchr(in.data, ' ', (size_t)(line_end - in.data));
			char *sp2 = sp1 ? memchr(sp1 + 1, ' ', (size_t)(line_end - sp1 - 1)) : NULL;

			hlen = (size_t)(hend - in.data) + 4;
			if (!sp1 || !sp2)
				goto out;
			snprintf(req.method, sizeof(req.method), "%.*s", (int)(sp1 - in.data),
				 in.data);
			snprintf(req.target, sizeof(req.target), "%.*s", (int)(sp2 - sp1 - 1),
				 sp1 + 1);
			snprintf(req.headers, sizeof(req.headers), "%.*s",
				 (int)(hend + 2 - line_end - 2), line_end + 2);
			stub_header(&req, "Content-Length", cl, sizeof(cl));
			need = hlen + (cl[0] ? strtoul(cl, NULL, 10) : 0);
		}
		if (hend && in.len >= need)
			break;
	}
	hlen = (size_t)(hend - in.data) + 4;
	req.body = in.data + hlen;
	req.body_len = need - hlen;
	pthread_mutex_lock(&s->lock);
	req.index = s->count;
	pthread_mutex_unlock(&s->lock);
	resp.status = 200;
	s->handler(&req, &resp, s->ud);
	if (resp.delay_ms)
		base_sleep_ms(resp.delay_ms);
	base_buf_addf(&out, "HTTP/1.1 %d X\r\nContent-Length: %zu\r\nConnection: close\r\n",
		      resp.status, resp.body ? strlen(resp.body) : 0);
	if (resp.content_type)
		base_buf_addf(&out, "Content-Type: %s\r\n", resp.content_type);
	if (resp.headers)
		base_buf_adds(&out, resp.headers);
	base_buf_addf(&out, "\r\n%s", resp.body ? resp.body : "");
	/* Counted before the answer leaves, so a client that has it sees the count. */
	pthread_mutex_lock(&s->lock);
	s->count++;
	pthread_mutex_unlock(&s->lock);
	for (size_t off = 0; off < out.len;) {
		n = send(cfd, out.data + off, out.len - off, MSG_NOSIGNAL);
		if (n <= 0)
			break;
		off += (size_t)n;
	}
out:
	free(resp.body);
	free(resp.headers);
	base_buf_release(&in);
	base_buf_release(&out);
	shutdown(cfd, SHUT_WR);
	close(cfd);
}

static void *stub_main(void *arg)
{
	struct stub *s = arg;

	for (;;) {
		struct pollfd pfd = {s->fd, POLLIN, 0};
		int stop;

		pthread_mutex_lock(&s->lock);
		stop = s->stop;
		pthread_mutex_unlock(&s->lock);
		if (stop)
			break;
		if (poll(&pfd, 1, 50) == 1) {
			int cfd = accept(s->fd, NULL, NULL);

			if (cfd >= 0)
				serve(s, cfd);
		}
	}
	return NULL;
}

struct stub *stub_start(stub_handler h, void *ud)
{
	struct stub *s = xcalloc(1, sizeof(*s));
	struct sockaddr_in a = {0};
	socklen_t len = sizeof(a);
	int one = 1;

	s->handler = h;
	s->ud = ud;
	pthread_mutex_init(&s->lock, NULL);
	s->fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
	a.sin_family = AF_INET;
	a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	setsockopt(s->fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
	if (s->fd < 0 || bind(s->fd, (struct sockaddr *)&a, sizeof(a)) != 0 ||
	    listen(s->fd, 16) != 0 || getsockname(s->fd, (struct sockaddr *)&a, &len) != 0)
		BUG("stub: cannot listen on loopback: %s", strerror(errno));
	s->port = ntohs(a.sin_port);
	pthread_create(&s->thread, NULL, stub_main, s);
	return s;
}

int stub_port(struct stub *s)
{
	return s->port;
}

int stub_count(struct stub *s)
{
	int n;

	pthread_mutex_lock(&s->lock);
	n = s->count;
	pthread_mutex_unlock(&s->lock);
	return n;
}

void stub_stop(struct stub *s)
{
	if (!s)
		return;
	pthread_mutex_lock(&s->lock);
	s->stop = 1;
	pthread_mutex_unlock(&s->lock);
	pthread_join(s->thread, NULL);
	close(s->fd);
	pthread_mutex_destroy(&s->lock);
	free(s);
}

struct aws_client *test_client_open(const struct moto *m, struct aws_creds_provider **creds)
{
	setenv("AWS_ACCESS_KEY_ID", "AKIDMOTOTEST", 1);
	setenv("AWS_SECRET_ACCESS_KEY", "motosecret", 1);
	setenv("AWS_EC2_METADATA_DISABLED", "true", 1);
	setenv("AWS_ENDPOINT_URL", m->url, 1);
	*creds = aws_creds_provider_new_chain(NULL);
	return aws_client_new(&(struct aws_client_config){.creds = *creds, .retry_base_ms = 20});
}

void test_client_close(struct aws_client *client, struct aws_creds_provider *creds)
{
	aws_client_free(client);
	aws_creds_provider_free(creds);
}

struct aws_client *stub_client(struct aws_creds_provider *creds, const char *url, int max_attempts,
			       int quota)
{
	struct aws_client_config cfg = {
		.creds = creds,
		.endpoint_url = url,
		.max_attempts = max_attempts,
		.retry_base_ms = 5,
		.retry_cap_ms = 50,
		.retry_quota = quota,
		.attempt_timeout_ms = 1000,
	};

	return aws_client_new(&cfg);
}
