# cfgsync's container image: ghcr.io/cfgsync/cfgsync (deploy/ runs it as an init container and
# a sidecar).
#
#   docker build -t ghcr.io/cfgsync/cfgsync:0.1.0 .
#
# tests/e2e/deploy_test.sh checks, without building, that the build stage runs the README's
# build (scripts/demo.sh's commands), that every runtime package exists in Debian 12, and that
# those packages provide every shared library the built binary loads.

# ---- build: the README's way, on the Debian release the runtime uses (same library ABIs).
FROM debian:12 AS build
WORKDIR /src
# The dependency list first, so that a source change does not reinstall the toolchain.
COPY scripts/install-deps.sh scripts/install-deps.sh
RUN bash scripts/install-deps.sh
COPY . .
RUN cmake --preset release
RUN cmake --build --preset release --target cfgsync
# Debug info is most of the binary's size; the symbols stay for readable stack traces.
RUN strip --strip-debug -o /cfgsync build/release/cfgsync

# ---- runtime: the shared libraries the binary loads, libcurl4 (and what it depends on) and
# libssl3, whose libcrypto cfgsync also calls itself; the C++ runtime, spdlog, fmt and pugixml
# are linked in statically (CMakeLists.txt), libc comes with debian:12-slim. And the CA
# certificates for https endpoints. Nothing else: no tools are needed, nothing is installed at
# start.
FROM debian:12-slim
RUN apt-get update \
    && apt-get install -y --no-install-recommends \
        libcurl4 libssl3 ca-certificates \
    && rm -rf /var/lib/apt/lists/*
# uid/gid 1000: the linuxserver.io images' default PUID/PGID (Sabnzbd, Sonarr, Radarr), so the
# files cfgsync restores belong to the app without CAP_CHOWN. (65532, distroless' "nonroot",
# would leave the app unable to write its own config.) Numeric, so that Kubernetes'
# runAsNonRoot can verify it; the manifests set it again explicitly.
RUN groupadd --gid 1000 cfgsync \
    && useradd --uid 1000 --gid 1000 --no-create-home --home-dir /nonexistent \
        --shell /usr/sbin/nologin cfgsync \
    && mkdir /config && chown 1000:1000 /config
COPY --from=build /cfgsync /usr/local/bin/cfgsync
USER 1000:1000
# /healthz, /readyz and /metrics (cfgsync's default --http-addr).
EXPOSE 9740
ENTRYPOINT ["cfgsync"]
CMD ["--help"]
