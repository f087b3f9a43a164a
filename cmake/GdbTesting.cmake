# Test registration helpers. Every tier is a ctest test with labels: the tier
# (unit, integration, e2e, fuzz, chaos) and the package (base, kube, aws, ...),
# so `ctest -L kube` runs everything about one package.
#
# Tests that need the shared environment (kube-apiserver, etcd, PostgreSQL)
# name FIXTURES testenv; ctest then starts it once, before them, and stops it
# after, and the test finds it through GDB_TESTENV_STATE.

set(GDB_CACHE_DIR "$ENV{HOME}/.cache/globaldb-controller" CACHE PATH "Cache of test binaries and the Python venv")
if(DEFINED ENV{GLOBALDB_CACHE})
  set(GDB_CACHE_DIR "$ENV{GLOBALDB_CACHE}" CACHE PATH "" FORCE)
endif()
if(EXISTS "${GDB_CACHE_DIR}/venv/bin/python3")
  set(GDB_PYTHON "${GDB_CACHE_DIR}/venv/bin/python3" CACHE FILEPATH "Python with the test requirements")
else()
  find_program(GDB_PYTHON python3 REQUIRED)
endif()
set(GDB_TESTENV_STATE "${CMAKE_BINARY_DIR}/testenv/state.json")

if(GDB_FUZZ)
  if(NOT CMAKE_C_COMPILER_ID STREQUAL "Clang")
    message(FATAL_ERROR "GDB_FUZZ needs clang: CC=clang cmake -DGDB_FUZZ=ON ...")
  endif()
  add_compile_options(-fsanitize=fuzzer-no-link,address,undefined)
  add_link_options(-fsanitize=address,undefined)
endif()

# Properties shared by every kind of test.
function(_gdb_test_properties name)
  cmake_parse_arguments(T "" "TIMEOUT" "LABELS;FIXTURES;ENV" ${ARGN})
  if(NOT T_TIMEOUT)
    set(T_TIMEOUT 120)
  endif()
  set(env "GDB_TESTENV_STATE=${GDB_TESTENV_STATE}" "GDB_SOURCE_DIR=${CMAKE_SOURCE_DIR}"
          "GDB_BINARY_DIR=${CMAKE_BINARY_DIR}" "GDB_PYTHON=${GDB_PYTHON}"
          "ASAN_OPTIONS=detect_leaks=1:abort_on_error=1" "UBSAN_OPTIONS=print_stacktrace=1:halt_on_error=1"
          ${T_ENV})
  set_tests_properties(${name} PROPERTIES LABELS "${T_LABELS}" TIMEOUT ${T_TIMEOUT}
                       ENVIRONMENT "${env}")
  if(T_FIXTURES)
    set_tests_properties(${name} PROPERTIES FIXTURES_REQUIRED "${T_FIXTURES}")
  endif()
endfunction()

# gdb_check_test(NAME n SOURCES a.c... LIBS gdb_x... LABELS unit;x [TIMEOUT s]
#                [FIXTURES testenv] [ENV K=V...])
# A Check test program. Check forks each test (CK_FORK) so one crash fails one test.
function(gdb_check_test)
  cmake_parse_arguments(T "" "NAME;TIMEOUT" "SOURCES;LIBS;LABELS;FIXTURES;ENV" ${ARGN})
  add_executable(${T_NAME} ${T_SOURCES})
  target_link_libraries(${T_NAME} PRIVATE ${T_LIBS} PkgConfig::CHECK Threads::Threads m)
  add_test(NAME ${T_NAME} COMMAND ${T_NAME})
  _gdb_test_properties(${T_NAME} TIMEOUT "${T_TIMEOUT}" LABELS "${T_LABELS}"
                       FIXTURES "${T_FIXTURES}" ENV "${T_ENV}")
endfunction()

# gdb_fuzz_target(NAME n SOURCES a.c... LIBS ... CORPUS dir [LABELS pkg])
# The sources define LLVMFuzzerTestOneInput. Always builds n_corpus, a plain
# program that feeds every file of CORPUS to it (a ctest test, label fuzz);
# with GDB_FUZZ=ON also the libFuzzer binary n.
function(gdb_fuzz_target)
  cmake_parse_arguments(T "" "NAME;CORPUS" "SOURCES;LIBS;LABELS" ${ARGN})
  add_executable(${T_NAME}_corpus ${T_SOURCES} ${CMAKE_SOURCE_DIR}/tests/fuzz_main.c)
  target_link_libraries(${T_NAME}_corpus PRIVATE ${T_LIBS} Threads::Threads m)
  add_test(NAME ${T_NAME}_corpus COMMAND ${T_NAME}_corpus ${T_CORPUS})
  _gdb_test_properties(${T_NAME}_corpus TIMEOUT 300 LABELS "fuzz;${T_LABELS}")
  if(GDB_FUZZ)
    add_executable(${T_NAME} ${T_SOURCES})
    target_link_libraries(${T_NAME} PRIVATE ${T_LIBS} Threads::Threads m)
    target_link_options(${T_NAME} PRIVATE -fsanitize=fuzzer)
  endif()
endfunction()

# gdb_pytest(NAME n DIR tests/x [LABELS ...] [TIMEOUT s] [FIXTURES testenv] [ENV ...])
# A pytest run with the project's pinned Python environment.
# In a cross build (cmake/aarch64-linux-gnu.cmake) the pytest tiers are not
# registered: they run the controller and the test services as host programs.
# The Check programs are, and ctest runs them under qemu (label arm64's test).
function(gdb_pytest)
  cmake_parse_arguments(T "" "NAME;DIR;TIMEOUT" "LABELS;FIXTURES;ENV;ARGS" ${ARGN})
  if(CMAKE_CROSSCOMPILING)
    return()
  endif()
  add_test(NAME ${T_NAME}
           COMMAND ${GDB_PYTHON} -m pytest -q -p no:cacheprovider ${T_ARGS} ${T_DIR}
           WORKING_DIRECTORY ${CMAKE_SOURCE_DIR})
  _gdb_test_properties(${T_NAME} TIMEOUT "${T_TIMEOUT}" LABELS "${T_LABELS}"
                       FIXTURES "${T_FIXTURES}" ENV "PYTHONPATH=${CMAKE_SOURCE_DIR}/tests/env:${CMAKE_SOURCE_DIR}/tests/support" ${T_ENV})
endfunction()

# gdb_spin_test(NAME n MODEL model/x.pml MODE safety|<ltl name> EXPECT clean|counterexample
#               [DEFINES A=1 B=0 ...])
# One SPIN verification of the protocol model (tier model, docs/protocol.md): spin -a,
# gcc, ./pan over the whole state space in a temporary directory. EXPECT counterexample
# asserts that a model of the old behaviour still shows its defect. Without spin the
# test fails (it never skips).
find_program(GDB_SPIN spin)
function(gdb_spin_test)
  cmake_parse_arguments(T "" "NAME;MODEL;MODE;EXPECT;TIMEOUT" "DEFINES;LABELS" ${ARGN})
  if(CMAKE_CROSSCOMPILING)
    return()
  endif()
  if(NOT GDB_SPIN)
    message(WARNING "spin not found: the model test ${T_NAME} will fail (apt-get install -y spin)")
  endif()
  set(defs)
  foreach(d ${T_DEFINES})
    list(APPEND defs -D ${d})
  endforeach()
  add_test(NAME ${T_NAME}
           COMMAND ${GDB_PYTHON} ${CMAKE_SOURCE_DIR}/tests/model/run_spin.py
                   --model ${CMAKE_SOURCE_DIR}/${T_MODEL} --mode ${T_MODE} --expect ${T_EXPECT}
                   --workdir ${CMAKE_CURRENT_BINARY_DIR} ${defs})
  if(NOT T_TIMEOUT)
    set(T_TIMEOUT 300)
  endif()
  _gdb_test_properties(${T_NAME} TIMEOUT ${T_TIMEOUT} LABELS "model;globaldb;${T_LABELS}"
                       ENV "GDB_SPIN=${GDB_SPIN}")
endfunction()
