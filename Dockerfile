# globaldb-controller's image: built with the same commands as the README
# (hack/install-deps --no-k8s, then CMake), shipped as one static binary with
# CA certificates and licences, running as a fixed non-root user on a
# read-only root filesystem. Build it with `make docker-build` (hack/docker-build).
ARG BASE_IMAGE=docker.io/library/debian:bookworm-slim

FROM ${BASE_IMAGE} AS build
WORKDIR /src
# The installer and its lists first, so this layer is reused until they change.
COPY hack/install-deps hack/build-deps hack/build-k8s-bins hack/apt-packages.txt hack/requirements.txt hack/versions.env hack/
# Behind a TLS-inspecting proxy, hack/docker-build lends the host's CA bundle
# to this step only, as a build secret: it is used for downloads and never
# stored in a layer (the image's own CA bundle is Debian's).
RUN --mount=type=secret,id=host-ca-bundle \
    if [ -s /run/secrets/host-ca-bundle ]; then \
        export PIP_CERT=/run/secrets/host-ca-bundle SSL_CERT_FILE=/run/secrets/host-ca-bundle \
               CURL_CA_BUNDLE=/run/secrets/host-ca-bundle REQUESTS_CA_BUNDLE=/run/secrets/host-ca-bundle; \
    fi && \
    hack/install-deps --no-k8s
COPY . .
RUN cmake -S . -B build -G Ninja -DCMAKE_BUILD_TYPE=Release && cmake --build build
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
