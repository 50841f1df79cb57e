# driftless in a container: a glibc binary built by scripts/dist, on
# Debian's slim image with what deploys need (CA certificates for AWS, git
# for `reconcile`). Build with the commit named, as .git is not copied:
#   docker build --build-arg DRIFTLESS_COMMIT=$(git rev-parse --short=12 HEAD) -t driftless .
FROM rust:1.95-bookworm AS build
WORKDIR /src
COPY . .
ARG DRIFTLESS_COMMIT=unknown
ENV DRIFTLESS_COMMIT=$DRIFTLESS_COMMIT
RUN scripts/dist /out

FROM debian:bookworm-slim
RUN apt-get update \
 && apt-get install -y --no-install-recommends ca-certificates git \
 && rm -rf /var/lib/apt/lists/*
COPY --from=build /out/driftless /usr/local/bin/driftless
WORKDIR /work
ENTRYPOINT ["driftless"]
