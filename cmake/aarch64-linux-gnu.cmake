# Cross-build for arm64 (aarch64) with Debian's cross toolchain:
#
#   hack/install-deps --arm64       gcc-aarch64-linux-gnu, qemu-user-static and the
#                                   arm64 -dev packages; libcurl, libmicrohttpd and
#                                   libpq cross-built by hack/build-deps --arch arm64
#   cmake -S . -B build-arm64 -G Ninja -DCMAKE_TOOLCHAIN_FILE=cmake/aarch64-linux-gnu.cmake
#   cmake --build build-arm64 && ctest --test-dir build-arm64 -L unit
#
# ctest runs each test program through qemu-aarch64-static (the
# CROSSCOMPILING_EMULATOR), so no binfmt_misc registration is needed.
set(CMAKE_SYSTEM_NAME Linux)
set(CMAKE_SYSTEM_PROCESSOR aarch64)
set(CMAKE_C_COMPILER aarch64-linux-gnu-gcc)
set(CMAKE_AR aarch64-linux-gnu-ar)
set(CMAKE_RANLIB aarch64-linux-gnu-ranlib)
set(CMAKE_LIBRARY_ARCHITECTURE aarch64-linux-gnu)

find_program(GDB_QEMU_AARCH64 qemu-aarch64-static)
if(GDB_QEMU_AARCH64)
  # The controller is static; the Check programs link libsubunit.so and find
  # the arm64 loader and libraries where dpkg's multiarch put them
  # (/lib/ld-linux-aarch64.so.1, /usr/lib/aarch64-linux-gnu). Not qemu's -L
  # /usr/aarch64-linux-gnu: with it qemu 7.2's forked Check children spin.
  set(CMAKE_CROSSCOMPILING_EMULATOR "${GDB_QEMU_AARCH64}")
endif()

# pkg-config reads only Debian's arm64 multiarch .pc files (and the cross-built
# prefix CMakeLists.txt puts first on PKG_CONFIG_PATH).
set(ENV{PKG_CONFIG_LIBDIR} "/usr/lib/aarch64-linux-gnu/pkgconfig:/usr/share/pkgconfig")
set(CMAKE_FIND_ROOT_PATH /usr/aarch64-linux-gnu)
set(CMAKE_FIND_ROOT_PATH_MODE_PROGRAM NEVER)
set(CMAKE_FIND_ROOT_PATH_MODE_LIBRARY BOTH)
set(CMAKE_FIND_ROOT_PATH_MODE_INCLUDE BOTH)

# The cross-built libcurl, libmicrohttpd and libpq (hack/build-deps --arch arm64).
if(DEFINED ENV{GLOBALDB_CACHE})
  set(GDB_DEPS_PREFIX "$ENV{GLOBALDB_CACHE}/deps-arm64" CACHE PATH "")
else()
  set(GDB_DEPS_PREFIX "$ENV{HOME}/.cache/globaldb-controller/deps-arm64" CACHE PATH "")
endif()
