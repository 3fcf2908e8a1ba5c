# syntax=docker/dockerfile:1
# sessiondb container image: the `sessiondb` binary on a distroless base (glibc and
# CA certificates, no shell, no package manager), running as a non-root user.
#
#   docker build -t sessiondb:0.1.0 .
#   docker run --rm sessiondb:0.1.0 --help

# Build stage: the workspace's locked dependencies, release profile.
FROM rust:1.88.0-slim-bookworm AS build
WORKDIR /src
COPY Cargo.toml Cargo.lock ./
COPY crates ./crates
# `sessiondb local up --monitoring` embeds the shipped Prometheus and Alertmanager files.
COPY deploy/monitoring ./deploy/monitoring
RUN --mount=type=cache,target=/usr/local/cargo/registry \
    --mount=type=cache,target=/src/target \
    cargo build --release --locked --package sessiondb \
    && install -D -m 0755 target/release/sessiondb /out/sessiondb

# Runtime stage: nothing but the binary. The :nonroot variant runs as uid/gid 65532.
FROM gcr.io/distroless/cc-debian12:nonroot
ARG VERSION=0.1.0
LABEL org.opencontainers.image.title="sessiondb" \
      org.opencontainers.image.description="Session database for microservices on Redis: HTTP API and operations CLI" \
      org.opencontainers.image.version="${VERSION}" \
      org.opencontainers.image.licenses="Apache-2.0" \
      org.opencontainers.image.documentation="docs/deploy/kubernetes.md"
COPY --from=build /out/sessiondb /usr/local/bin/sessiondb
USER 65532:65532
# API listener and admin listener (/healthz, /readyz, /metrics), when the settings
# bind them to 0.0.0.0:8080 and 0.0.0.0:9090 as the Kubernetes manifests do.
EXPOSE 8080 9090
ENTRYPOINT ["/usr/local/bin/sessiondb"]
CMD ["serve"]
