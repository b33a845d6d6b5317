# Slipway worker and HTTP API, one image. TypeScript runs through tsx (a runtime
# dependency), so there is no compile step: the deps stage installs production
# dependencies from the lockfile, the runtime stage adds the sources and runs
# as the unprivileged `node` user.
#
#   docker build -t slipway .
#   docker run slipway                       # the worker (workers/main.ts)
#   docker run slipway api/main.ts           # the HTTP API
#   docker run slipway bin/slipway.js --help # the CLI
#
# docker-compose.yml builds this image for the slipway-worker and slipway-api services.

##### Production dependencies #####
FROM node:20.19-bookworm-slim AS deps
WORKDIR /app
ENV NODE_ENV=production
# .npmrc tells onnxruntime-node to skip its CUDA download (the CPU runtime ships in the package).
COPY package.json package-lock.json .npmrc ./
# Temporal's core bridge, @swc/core, esbuild and onnxruntime-node ship prebuilt
# binaries for linux (glibc, x64/arm64), so nothing compiles here.
RUN npm ci --omit=dev --no-audit --no-fund && npm cache clean --force

##### Runtime #####
FROM node:20.19-bookworm-slim AS runtime
LABEL org.opencontainers.image.title="slipway" \
      org.opencontainers.image.description="Release-promotion engine for AI models on Temporal: worker and HTTP API" \
      org.opencontainers.image.licenses="Apache-2.0"
ENV NODE_ENV=production \
    SLIPWAY_API_PORT=8787 \
    SLIPWAY_WORKER_HTTP_PORT=9464
WORKDIR /app
# Sources and dependencies stay owned by root: the process can read them, not change them.
COPY --from=deps /app/node_modules ./node_modules
COPY . .
USER node
# 8787: HTTP API (api/main.ts) · 9464: worker /healthz and /metrics (workers/main.ts)
EXPOSE 8787 9464
# The worker bundles its workflow code with webpack at start (a few seconds).
ENTRYPOINT ["node", "--import", "tsx"]
CMD ["workers/main.ts"]
