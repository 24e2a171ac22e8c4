# sidekey container image: multi-stage, production dependencies only, non-root, read-only root
# file system friendly (sidekey writes only to its certs directory and --publish-ca, both mounts).
# CA, policies, state file and secrets come from mounts; see helm/sidekey.

# 1. Compile TypeScript (dev dependencies live only in this stage).
FROM node:24-bookworm-slim AS build
WORKDIR /src
COPY package.json package-lock.json ./
RUN npm ci --no-audit --no-fund --ignore-scripts
COPY tsconfig.json tsconfig.build.json ./
COPY src ./src
# The system Node runs the compiler (the `node` dev dependency is for development machines).
RUN node node_modules/typescript/bin/tsc -p tsconfig.build.json

# 2. Production dependencies only.
FROM node:24-bookworm-slim AS deps
WORKDIR /app
COPY package.json package-lock.json ./
RUN npm ci --omit=dev --no-audit --no-fund --ignore-scripts

# 3. Runtime. iptables is here for transparent mode's init container (which runs as root with
#    NET_ADMIN, from this same image); sidekey itself runs as 10001 with no capabilities.
FROM node:24-bookworm-slim
RUN apt-get update \
 && apt-get install -y --no-install-recommends iptables ca-certificates \
 && rm -rf /var/lib/apt/lists/* \
 && groupadd --gid 10001 sidekey \
 && useradd --uid 10001 --gid 10001 --no-create-home --shell /usr/sbin/nologin sidekey
WORKDIR /app
COPY --from=deps /app/node_modules ./node_modules
COPY --from=build /src/dist/src ./dist/src
COPY package.json ./
COPY policies ./policies
ENV NODE_ENV=production \
    SIDEKEY_CERTS=/var/run/sidekey/certs \
    SIDEKEY_POLICIES=/etc/sidekey/policies
USER 10001:10001
EXPOSE 3128 3129
HEALTHCHECK --interval=20s --timeout=5s --start-period=10s CMD ["node", "/app/dist/src/cli/main.js", "health"]
# V8's young generation capped at 4 MiB a semi-space: about 50 MiB less resident memory under load,
# no measurable CPU (docs/benchmarks.md; bench/peer-sidekey.sh measures with the same flag).
ENTRYPOINT ["node", "--max-semi-space-size=4", "/app/dist/src/cli/main.js"]
CMD ["start"]
