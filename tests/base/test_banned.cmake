# pkg/base/banned.h: every banned function fails to compile, naming itself,
# and the safe spellings banned.h recommends still compile. Run by ctest as
#   cmake -DCC=<compiler> -DSRC=<source dir> -DWORK=<scratch dir> -P test_banned.cmake
# with the project's own -include of banned.h.
set(calls
    "strcpy(d, s)" "strcat(d, s)" "strncpy(d, s, 1)" "strncat(d, s, 1)"
    "sprintf(d, \"%s\", s)" "vsprintf(d, s, ap)" "gets(d)" "strtok(d, s)"
    "gmtime(&t)" "localtime(&t)" "ctime(&t)" "asctime(&tm)"
    "atoi(s)" "atol(s)" "atoll(s)" "atof(s)")
set(prelude "#include <stdarg.h>\n#include <stdio.h>\n#include <stdlib.h>\n#include <string.h>\n#include <time.h>\nvoid f(char *d, const char *s, va_list ap)\n{\n\ttime_t t = 0;\n\tstruct tm tm = {0};\n\t(void)d; (void)s; (void)ap; (void)t; (void)tm;\n")
file(MAKE_DIRECTORY ${WORK})

function(compile name body result_var err_var)
  file(WRITE ${WORK}/${name}.c "${prelude}\t${body};\n}\n")
  execute_process(COMMAND ${CC} -std=c11 -D_GNU_SOURCE -Wall -Wextra -Werror -fsyntax-only
                          -include ${SRC}/pkg/base/banned.h ${WORK}/${name}.c
                  RESULT_VARIABLE rc ERROR_VARIABLE err OUTPUT_QUIET)
  set(${result_var} ${rc} PARENT_SCOPE)
  set(${err_var} "${err}" PARENT_SCOPE)
endfunction()

# The control: the recommended spellings compile under the same flags.
compile(safe "char *save; struct tm r; snprintf(d, 8, \"%s\", s); (void)strtol(s, NULL, 10); (void)gmtime_r(&t, &r); (void)localtime_r(&t, &r); (void)strtok_r(d, s, &save)" rc err)
if(NOT rc EQUAL 0)
  message(FATAL_ERROR "the safe spellings do not compile:\n${err}")
endif()

set(failures "")
foreach(call IN LISTS calls)
  string(REGEX REPLACE "\\(.*" "" func "${call}")
  compile(${func} "(void)${call}" rc err)
  if(rc EQUAL 0)
    string(APPEND failures "${func} compiled; banned.h must refuse it\n")
  elseif(NOT err MATCHES "sorry_${func}_is_a_banned_function")
    string(APPEND failures "${func} failed without naming the ban:\n${err}\n")
  endif()
endforeach()
if(failures)
  message(FATAL_ERROR "${failures}")
endif()
list(LENGTH calls n)
message(STATUS "${n} banned functions refused; the safe spellings compile")
