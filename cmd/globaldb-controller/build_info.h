/*
 * build_info.h - what this binary is: its version, commit and the libraries
 * linked into it, as the metric globaldb_build_info and the first log line.
 *
 *   globaldb_build_info{version="0.1.0",commit="1c9ee7d",libcurl="8.1.2",
 *                       openssl="3.0.17",libpq="15.18"} 1
 *
 * The library versions are the ones the static binary runs with (asked of the
 * libraries at run time, not copied from headers), so an alert or a support
 * question can tell which OpenSSL a running controller has.
 */
#ifndef GDB_BUILD_INFO_H
#define GDB_BUILD_INFO_H

#include <stddef.h>

struct build_info {
	char version[32];
	char commit[48];
	char libcurl[32];
	char openssl[32];
	char libpq[32];
};

void build_info_get(struct build_info *bi);

/* Registers globaldb_build_info and sets its one series to 1. */
void build_info_publish(const struct build_info *bi);

#endif
