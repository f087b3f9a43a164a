/*
 * scram.h - a cap on the SCRAM iteration count a server may ask the probes for.
 *
 * libpq 15 derives the SCRAM key with however many iterations the server's
 * server-first message names (1 to 2^31-1), inside one PQconnectPoll call on
 * the prober's one thread: 10 million cost 27 s on the benchmark machine
 * (docs/benchmarks.md), and any host on the path can send the message under
 * sslmode require. libpq has no hook for it, so the prober looks at what
 * libpq will read next while it waits for the server's authentication
 * messages (MSG_PEEK on the socket, SSL_peek over TLS) and checks it here
 * before letting libpq read it.
 *
 * The rule, over the bytes libpq will read next (the caller peeks at most
 * PROBE_SCRAM_PEEK): every message is looked at; an AuthenticationSASLContinue
 * (R, code 11) whose i= names more than max iterations, malformed framing, or
 * PROBE_SCRAM_PEEK bytes or more before authentication ends (a real server
 * sends a few hundred) are refused. Bytes that end in the middle of a message
 * mean "wait for the rest": a real server sends these messages whole, in one
 * TLS record, and one that splits them runs into the probe's deadline instead
 * of into libpq. Because libpq then reads all that was seen (it keeps 8 KB
 * free for a read, and reads one TLS record at a time), its buffer holds whole
 * messages only, and the next look starts at a message boundary again.
 * Pure function, no I/O.
 */
#ifndef PROBE_SCRAM_H
#define PROBE_SCRAM_H

#include <stddef.h>

/* PostgreSQL's default is 4,096; 100,000 cost the benchmark machine ~0.2 s. */
#define PROBE_SCRAM_MAX_ITERATIONS 100000L
/* How much the caller peeks at: libpq's least free room for a read. */
#define PROBE_SCRAM_PEEK 8192

enum probe_scram_verdict {
	PROBE_SCRAM_REFUSE = -1, /* over the cap, or not PostgreSQL framing */
	PROBE_SCRAM_WAIT = 0,	 /* a message is not whole yet */
	PROBE_SCRAM_OK = 1,	 /* libpq may read it */
};

enum probe_scram_verdict probe_scram_check(const unsigned char *buf, size_t n, long max);

#endif
