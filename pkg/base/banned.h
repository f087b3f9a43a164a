/*
 * banned.h - functions this project does not call.
 *
 * Force-included into every translation unit by the build (-include), after
 * which a call to one of these fails to compile. Each has a safer spelling:
 *   strcpy, strcat, strncpy, strncat  -> buf_* (buf.h), or snprintf with a size
 *   sprintf, vsprintf                 -> snprintf, xasprintf (alloc.h)
 *   gets                              -> fgets
 *   strtok                            -> strtok_r, or strsep
 *   gmtime, localtime, ctime, asctime -> the _r variants (timeutil.h)
 *   atoi, atol, atoll, atof           -> strtol & co with error checks
 * Modelled on git's banned.h. System headers are parsed before the macros
 * take effect, because each is included first here.
 */
#ifndef BASE_BANNED_H
#define BASE_BANNED_H

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#define BANNED(func) sorry_##func##_is_a_banned_function

#undef strcpy
#define strcpy(x, y) BANNED(strcpy)
#undef strcat
#define strcat(x, y) BANNED(strcat)
#undef strncpy
#define strncpy(x, y, n) BANNED(strncpy)
#undef strncat
#define strncat(x, y, n) BANNED(strncat)
#undef sprintf
#define sprintf(...) BANNED(sprintf)
#undef vsprintf
#define vsprintf(...) BANNED(vsprintf)
#undef gets
#define gets(x) BANNED(gets)
#undef strtok
#define strtok(x, y) BANNED(strtok)
#undef gmtime
#define gmtime(t) BANNED(gmtime)
#undef localtime
#define localtime(t) BANNED(localtime)
#undef ctime
#define ctime(t) BANNED(ctime)
#undef asctime
#define asctime(t) BANNED(asctime)
#undef atoi
#define atoi(x) BANNED(atoi)
#undef atol
#define atol(x) BANNED(atol)
#undef atoll
#define atoll(x) BANNED(atoll)
#undef atof
#define atof(x) BANNED(atof)

#endif
