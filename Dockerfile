# One image definition for every Tributary connector. From the repository root:
#
#   docker build --build-arg CONNECTOR=source-postgres --build-arg PROTOCOL=capture \
#     -t ghcr.io/tributary-dev/source-postgres:dev .
#
# or `make image CONNECTOR=source-postgres` (`make images` builds them all).
# PROTOCOL must be the protocol the connector speaks (`tributary list`); the
# build fails otherwise. Flow runs the ENTRYPOINT over stdio in the codec
# that FLOW_RUNTIME_CODEC names.
#
# BASE is Node 20 on Debian bookworm, pinned by digest. Without a registry,
# images/base.sh makes a local stand-in: `--build-arg BASE=$(images/base.sh)`.
#
# Behind a proxy that intercepts TLS, give npm its CA bundle as a build
# secret (it never enters a layer):
#   docker build --secret id=npm_ca,src=/path/to/ca-bundle.pem ...
ARG BASE=docker.io/library/node:20-bookworm-slim@sha256:2cf067cfed83d5ea958367df9f966191a942351a2df77d6f0193e162b5febfc0

# Production dependencies only; install scripts are skipped (the one native
# add-on among them, ssh2's optional cpu-features, is not needed).
FROM --platform=linux/amd64 ${BASE} AS deps
WORKDIR /app
COPY package.json package-lock.json ./
RUN --mount=type=secret,id=npm_ca \
    if [ -s /run/secrets/npm_ca ]; then export NODE_EXTRA_CA_CERTS=/run/secrets/npm_ca; fi; \
    npm ci --omit=dev --ignore-scripts --no-audit --no-fund

# Compiles the toolkit and connectors without tests (images/tsconfig.json).
FROM --platform=linux/amd64 ${BASE} AS build
WORKDIR /app
COPY package.json package-lock.json ./
RUN --mount=type=secret,id=npm_ca \
    if [ -s /run/secrets/npm_ca ]; then export NODE_EXTRA_CA_CERTS=/run/secrets/npm_ca; fi; \
    npm ci --ignore-scripts --no-audit --no-fund
COPY tsconfig.json ./
COPY images/tsconfig.json images/
COPY src src
COPY connectors connectors
RUN npx tsc -p images/tsconfig.json

FROM --platform=linux/amd64 ${BASE}
WORKDIR /app
ENV NODE_ENV=production
# Shared by every connector image: dependencies, then the compiled code.
COPY --from=deps /app/node_modules node_modules
COPY package.json ./
COPY bin/tributary bin/
COPY --from=build /app/dist/src dist/src
COPY --from=build /app/dist/connectors dist/connectors

ARG CONNECTOR
ARG PROTOCOL
# proto, not json: Opened must be able to carry the explicit-zero runtime
# checkpoint that destination-authoritative materializations return.
ARG CODEC=proto
ARG VERSION=dev
ARG SOURCE=https://github.com/tributary-dev/tributary
# The entrypoint is a two-line launcher because ENTRYPOINT cannot expand a
# build argument; building it also checks CONNECTOR and PROTOCOL.
RUN set -eu; \
    known=$(node bin/tributary list); \
    if ! printf '%s\n' "$known" | grep -qxF "$(printf '%s\t%s' "$CONNECTOR" "$PROTOCOL")"; then \
      echo "CONNECTOR=$CONNECTOR PROTOCOL=$PROTOCOL is not a connector of this build; tributary list says:" >&2; \
      echo "$known" >&2; exit 1; \
    fi; \
    printf '#!/bin/sh\nexec /app/bin/tributary run %s "$@"\n' "$CONNECTOR" > bin/connector; \
    chmod 0755 bin/connector
LABEL FLOW_RUNTIME_PROTOCOL=${PROTOCOL} \
      FLOW_RUNTIME_CODEC=${CODEC} \
      org.opencontainers.image.title=${CONNECTOR} \
      org.opencontainers.image.description="Tributary ${CONNECTOR}: an Estuary Flow ${PROTOCOL} connector" \
      org.opencontainers.image.version=${VERSION} \
      org.opencontainers.image.source=${SOURCE} \
      org.opencontainers.image.documentation=${SOURCE}/tree/main/connectors/${CONNECTOR} \
      org.opencontainers.image.licenses=Apache-2.0
ENV FLOW_RUNTIME_CODEC=${CODEC}
USER node
ENTRYPOINT ["/app/bin/connector"]
