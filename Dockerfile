# One image for the API and the worker; docker-compose.yml picks the entry point per service.
# Build a GPU worker image with:  docker build --build-arg ONNXRUNTIME_NODE_INSTALL=cuda12 .
FROM node:20-bookworm-slim

# skip: the CPU build of onnxruntime-node ships in the npm package, nothing to download.
# cuda12: onnxruntime-node's postinstall downloads its CUDA execution provider (linux/x64 only).
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

WORKDIR /app

# Manifests first, so source edits do not re-run npm ci. Every workspace's package.json must be
# listed here (npm ci checks them against package-lock.json): add new workspaces to this list.
COPY package.json package-lock.json .npmrc ./
COPY apps/api/package.json apps/api/
COPY apps/worker/package.json apps/worker/
COPY packages/core/package.json packages/core/
COPY packages/inference/package.json packages/inference/
# Dev dependencies are installed too: the entry points run TypeScript through tsx (no build step).
RUN ONNXRUNTIME_NODE_INSTALL="$ONNXRUNTIME_NODE_INSTALL" npm ci && npm cache clean --force

COPY . .

ENV HOST=0.0.0.0 PORT=3000
EXPOSE 3000
CMD ["node", "--import", "tsx", "apps/api/src/main.ts"]
