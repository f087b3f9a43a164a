# The targets Kubernetes users reach for. Everything real happens in CMake,
# ctest and the scripts under hack/; this file only names the entry points.
#
#   make          build (installs missing build dependencies first)
#   make test     install everything, then run every test tier (unit under
#                 ASan+UBSan and TSan first)
#   make unit     unit tests only
#   make asan     unit tests under ASan+UBSan
#   make tsan     unit tests under TSan
#   make chaos    the chaos tier's full sweep (ctest runs a subset in `make test`)
#   make testenv  start the shared test environment in this shell's session
#   make format   clang-format the C, ruff the Python (format-check: CI's check)
#   make demo     the runbook story on the local environment (hack/demo)
#   make demo-helm  helm install the chart there; a GlobalDatabase Ready (hack/demo-helm)
#   make docker-build   the container image (docker, else podman)
#   make deploy   apply manifests/ to the cluster of the current kubeconfig
#   make arm64    the controller cross-built for arm64 in $(BUILD)-arm64
#   make arm64-test   the unit tier's Check programs, arm64, under qemu-aarch64-static
#   make release  dist/: install.yaml, the Helm chart, SBOMs (VERSION=, DIST=)

BUILD ?= build
CTEST_ARGS ?=
# A ctest label regex that `make test` leaves out, e.g. TEST_EXCLUDE=image on a
# machine where podman cannot build (the image test needs root).
TEST_EXCLUDE ?=
CACHE ?= $(or $(GLOBALDB_CACHE),$(HOME)/.cache/globaldb-controller)
RUFF ?= $(CACHE)/venv/bin/ruff

.PHONY: all build deps deps-build test unit asan tsan chaos testenv demo demo-helm docker-build image-test deploy clean format format-check arm64 arm64-test release

all: build

deps:
	hack/install-deps

deps-build:
	hack/install-deps --no-k8s

build: deps-build
	cmake -S . -B $(BUILD) -G Ninja
	cmake --build $(BUILD)

# The sanitizer pass runs first so that the full suite's summary closes the output.
test: deps
	$(MAKE) --no-print-directory format-check
	$(MAKE) --no-print-directory asan
	$(MAKE) --no-print-directory tsan
	cmake -S . -B $(BUILD) -G Ninja
	cmake --build $(BUILD)
	ctest --test-dir $(BUILD) --output-on-failure $(if $(TEST_EXCLUDE),-LE '$(TEST_EXCLUDE)') $(CTEST_ARGS)

unit: build
	ctest --test-dir $(BUILD) --output-on-failure -L unit $(CTEST_ARGS)

asan: deps-build
	cmake -S . -B $(BUILD)-asan -G Ninja -DGDB_SANITIZE=address -DCMAKE_BUILD_TYPE=Debug
	cmake --build $(BUILD)-asan
	ctest --test-dir $(BUILD)-asan --output-on-failure -L unit $(CTEST_ARGS)

tsan: deps-build
	cmake -S . -B $(BUILD)-tsan -G Ninja -DGDB_SANITIZE=thread -DCMAKE_BUILD_TYPE=Debug
	cmake --build $(BUILD)-tsan
	ctest --test-dir $(BUILD)-tsan --output-on-failure -L unit $(CTEST_ARGS)

chaos: deps
	GDB_CHAOS_FULL=1 cmake -S . -B $(BUILD) -G Ninja
	cmake --build $(BUILD)
	GDB_CHAOS_FULL=1 ctest --test-dir $(BUILD) --output-on-failure -L chaos $(CTEST_ARGS)

testenv: deps
	hack/testenv up

demo:
	hack/demo

demo-helm:
	hack/demo-helm

docker-build: deps-build
	hack/docker-build

image-test: build
	ctest --test-dir $(BUILD) --output-on-failure -L image $(CTEST_ARGS)

deploy:
	kubectl apply -k manifests/

# arm64: Debian's cross toolchain (hack/install-deps --arm64), cmake/aarch64-linux-gnu.cmake.
ARM64_BUILD ?= $(BUILD)-arm64
arm64:
	hack/install-deps --no-k8s --arm64
	cmake -S . -B $(ARM64_BUILD) -G Ninja -DCMAKE_TOOLCHAIN_FILE=cmake/aarch64-linux-gnu.cmake
	cmake --build $(ARM64_BUILD)

arm64-test: arm64
	ctest --test-dir $(ARM64_BUILD) --output-on-failure -L unit $(CTEST_ARGS)

# The release artefacts of one version (hack/release), after `make` (and
# `make arm64`): the SBOM of the host build and, when it is there, the arm64 one.
VERSION ?=
DIST ?= dist
release:
	hack/release --dist $(DIST) $(if $(VERSION),--version $(VERSION)) --build-dir $(BUILD) \
		$(if $(wildcard $(ARM64_BUILD)/cmd/globaldb-controller/globaldb-controller),--build-dir $(ARM64_BUILD))

# C by clang-format (Debian 12's, installed by hack/install-deps), Python by
# ruff (pinned in hack/requirements.txt). format-check fails on any difference.
format:
	git ls-files '*.c' '*.h' | xargs clang-format -i
	$(RUFF) format -q tests hack
	$(RUFF) check -q --fix tests hack

format-check:
	git ls-files '*.c' '*.h' | xargs clang-format --dry-run --Werror
	$(RUFF) format --check -q tests hack
	$(RUFF) check -q tests hack

clean:
	rm -rf $(BUILD) $(BUILD)-asan $(BUILD)-tsan $(BUILD)-arm64 dist
