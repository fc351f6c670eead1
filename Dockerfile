# One image for the API and the worker; docker-compose.yml picks the entry point per service.
# Build a GPU worker image with:  docker build --build-arg ONNXRUNTIME_NODE_INSTALL=cuda12 .
# Stages: manifests (what npm ci needs) → build (dev dependencies, tsc → dist/) → runtime
# (production dependencies and the compiled dist/ only, as the unprivileged user `node`).

# Node 24: the active LTS line. npm is pinned to the project's packageManager version.
FROM node:24-bookworm-slim AS node-npm
RUN npm install -g npm@11.19.1 && npm cache clean --force
WORKDIR /app

# Every workspace's package.json must be listed here: npm ci checks them against
# package-lock.json and links each workspace into node_modules/@inferq (the CLI's `inferq` bin
# included). Add new workspaces to this list; test/unit/packaging.test.ts installs from it.
FROM node-npm AS manifests
COPY package.json package-lock.json ./
COPY scripts/onnxruntime-install.mjs scripts/
COPY apps/api/package.json apps/api/
COPY apps/worker/package.json apps/worker/
COPY packages/batch/package.json packages/batch/
COPY packages/cli/package.json packages/cli/
COPY packages/client/package.json packages/client/
# The bin's target must exist when npm ci links it, or the link is silently left out.
COPY packages/cli/bin packages/cli/bin/
COPY packages/core/package.json packages/core/
COPY packages/inference/package.json packages/inference/
COPY packages/jobs/package.json packages/jobs/
COPY packages/metrics/package.json packages/metrics/
COPY packages/routing/package.json packages/routing/
COPY packages/webhooks/package.json packages/webhooks/

# TypeScript → dist/ with the dev dependencies, which stay in this stage.
FROM manifests AS build
RUN npm ci --ignore-scripts
COPY tsconfig.base.json tsconfig.build-base.json tsconfig.build.json ./
COPY apps apps
COPY packages packages
RUN npm run build

FROM node-npm AS runtime
# skip: the CPU build of onnxruntime-node ships in the npm package, nothing to download.
# cuda12: onnxruntime-node's install script downloads its CUDA execution provider (linux/x64 only).
ARG ONNXRUNTIME_NODE_INSTALL=skip
# CUDA minor version of the runtime libraries installed for cuda12 (any 12.x >= the one
# onnxruntime was built with works with a recent driver).
ARG CUDA_MINOR=12-8

# onnxruntime's CUDA provider links against the CUDA 12 runtime, cuBLAS, cuFFT, cuRAND and cuDNN 9,
# none of which it bundles; without them it is skipped at run time and the worker runs on the CPU.
RUN if [ "$ONNXRUNTIME_NODE_INSTALL" = "cuda12" ]; then \
      set -eux; \
      apt-get update; \
      apt-get install -y --no-install-recommends ca-certificates curl; \
      curl -fsSL -o /tmp/cuda-keyring.deb https://developer.download.nvidia.com/compute/cuda/repos/debian12/x86_64/cuda-keyring_1.1-1_all.deb; \
      dpkg -i /tmp/cuda-keyring.deb; \
      apt-get update; \
      apt-get install -y --no-install-recommends \
        cuda-cudart-${CUDA_MINOR} libcublas-${CUDA_MINOR} libcufft-${CUDA_MINOR} libcurand-${CUDA_MINOR} libcudnn9-cuda-12; \
      echo "/usr/local/cuda-$(echo ${CUDA_MINOR} | tr - .)/targets/x86_64-linux/lib" > /etc/ld.so.conf.d/inferq-cuda.conf; \
      ldconfig; \
      rm -rf /var/lib/apt/lists/* /tmp/cuda-keyring.deb; \
    fi

COPY --from=manifests /app ./
# TypeScript (about 30 MB with its compiler binary) survives --omit=dev only as an optional peer
# of bull-board's valibot, for types: nothing runs it.
RUN ONNXRUNTIME_NODE_INSTALL="$ONNXRUNTIME_NODE_INSTALL" npm ci --omit=dev \
  && rm -rf node_modules/typescript node_modules/@typescript \
  && npm cache clean --force

COPY --from=build /app/apps/api/dist apps/api/dist
COPY --from=build /app/apps/worker/dist apps/worker/dist
COPY --from=build /app/packages/batch/dist packages/batch/dist
COPY --from=build /app/packages/cli/dist packages/cli/dist
COPY --from=build /app/packages/client/dist packages/client/dist
COPY --from=build /app/packages/core/dist packages/core/dist
COPY --from=build /app/packages/inference/dist packages/inference/dist
COPY --from=build /app/packages/jobs/dist packages/jobs/dist
COPY --from=build /app/packages/metrics/dist packages/metrics/dist
COPY --from=build /app/packages/routing/dist packages/routing/dist
COPY --from=build /app/packages/webhooks/dist packages/webhooks/dist
COPY models models

USER node
ENV NODE_ENV=production HOST=0.0.0.0 PORT=3000
EXPOSE 3000
# The API's readiness (Redis answers, models known). The worker service sets its own, on
# INFERQ_WORKER_HEALTH_PORT (docker-compose.yml).
HEALTHCHECK --interval=10s --timeout=5s --start-period=20s --retries=5 \
  CMD ["node", "-e", "fetch('http://127.0.0.1:' + (process.env.PORT || 3000) + '/readyz').then((r) => process.exit(r.ok ? 0 : 1), () => process.exit(1))"]
CMD ["node", "apps/api/dist/main.js"]
