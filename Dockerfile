# globaldb-controller's image: built with the same commands as the README
# (hack/install-deps --no-k8s, then CMake), shipped as one static binary with
# CA certificates and licences, running as a fixed non-root user on a
# read-only root filesystem. Build it with `make docker-build` (hack/docker-build).
ARG BASE_IMAGE=docker.io/library/debian:bookworm-slim

# The build stage runs on the build machine's platform; for --platform linux/arm64
# (hack/docker-build --platform linux/arm64) it cross-builds with Debian's
# cross toolchain (cmake/aarch64-linux-gnu.cmake) instead of emulating arm64.
FROM --platform=${BUILDPLATFORM} ${BASE_IMAGE} AS build
ARG TARGETARCH
WORKDIR /src
# The installer and its lists first, so this layer is reused until they change.
COPY hack/install-deps hack/build-deps hack/build-k8s-bins hack/apt-packages.txt hack/apt-packages-arm64.txt hack/requirements.txt hack/versions.env hack/
# Behind a TLS-inspecting proxy, hack/docker-build lends the host's CA bundle
# to this step only, as a build secret: it is used for downloads and never
# stored in a layer (the image's own CA bundle is Debian's).
RUN --mount=type=secret,id=host-ca-bundle \
    if [ -s /run/secrets/host-ca-bundle ]; then \
        export PIP_CERT=/run/secrets/host-ca-bundle SSL_CERT_FILE=/run/secrets/host-ca-bundle \
               CURL_CA_BUNDLE=/run/secrets/host-ca-bundle REQUESTS_CA_BUNDLE=/run/secrets/host-ca-bundle; \
    fi && \
    hack/install-deps --no-k8s $(if [ "$TARGETARCH" = arm64 ]; then echo --arm64; fi)
COPY . .
RUN if [ "$TARGETARCH" = arm64 ]; then cross=-DCMAKE_TOOLCHAIN_FILE=cmake/aarch64-linux-gnu.cmake; fi && \
    cmake -S . -B build -G Ninja -DCMAKE_BUILD_TYPE=Release ${cross:-} && cmake --build build
RUN hack/image/make-rootfs build/cmd/globaldb-controller/globaldb-controller /rootfs

FROM scratch
ARG VERSION=0.1.0
ARG REVISION=unknown
ARG CREATED=unknown
ARG SOURCE=""
COPY --from=build /rootfs/ /
USER 65532:65532
EXPOSE 8080 8081
ENTRYPOINT ["/usr/local/bin/globaldb-controller"]
LABEL org.opencontainers.image.title="globaldb-controller" \
      org.opencontainers.image.description="Kubernetes controller keeping Aurora PostgreSQL Global Databases writing in the region their owners want" \
      org.opencontainers.image.version="${VERSION}" \
      org.opencontainers.image.revision="${REVISION}" \
      org.opencontainers.image.created="${CREATED}" \
      org.opencontainers.image.source="${SOURCE}" \
      org.opencontainers.image.base.name="scratch"
