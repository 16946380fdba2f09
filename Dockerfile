# syntax=docker/dockerfile:1
# ortserve's container image: a build stage that runs the README's `npm ci` (addon, TypeScript), and a slim runtime
# stage with node, tini and the built files only. test/deploy-image.test.ts runs this file's ENTRYPOINT, CMD and
# HEALTHCHECK on the host (README, Deploy), so edit the command lines here and the test follows.

# Node 20 is the version the test suite runs on; uWebSockets.js also ships binaries for 22, 24 and 25.
ARG NODE_VERSION=20.20.0

# ---- build: cmake, g++ and make, then the same `npm ci` as a developer's machine -------------------------------
# Debian trixie (glibc 2.41): the uWebSockets.js binaries load as published (they need glibc >= 2.38), so the
# install step's glibc compatibility patch does not run, and the ONNX Runtime headers come from trixie's
# libonnxruntime-dev (scripts/ort-headers.mjs).
FROM node:${NODE_VERSION}-trixie AS build
ARG DEBIAN_FRONTEND=noninteractive
RUN apt-get update \
 && apt-get install -y --no-install-recommends cmake g++ make \
 && rm -rf /var/lib/apt/lists/*
WORKDIR /opt/ortserve
COPY . .
RUN npm ci --no-audit --no-fund
# Keep what runs: production dependencies, and of the prebuilt binaries only this platform's (onnxruntime-node
# ships darwin/win32/arm64 copies, uWebSockets.js one per OS, CPU and Node ABI: most of their 400 MB).
RUN npm prune --omit=dev --no-audit --no-fund \
 && arch="$(node -p process.arch)" && abi="$(node -p process.versions.modules)" \
 && find node_modules/uWebSockets.js -name 'uws_*.node' ! -name "uws_linux_${arch}_${abi}.node" -delete \
 && find node_modules/onnxruntime-node/bin -mindepth 3 -maxdepth 3 ! -path "*/linux/${arch}" -exec rm -rf {} + \
 && node -e "require('node:fs').accessSync('build/Release/ortserve.node')"

# ---- runtime: no compiler, no cmake, no npm cache ----------------------------------------------------------------
FROM node:${NODE_VERSION}-trixie-slim AS runtime
ARG DEBIAN_FRONTEND=noninteractive
# tini is PID 1: it forwards SIGTERM/SIGINT to node (whose handlers drain, README "Signals and drain") and reaps.
RUN apt-get update \
 && apt-get install -y --no-install-recommends tini \
 && rm -rf /var/lib/apt/lists/* \
 && groupadd --gid 10001 ortserve \
 && useradd --uid 10001 --gid 10001 --home-dir /nonexistent --no-create-home --shell /usr/sbin/nologin ortserve
WORKDIR /opt/ortserve
# The addon finds libonnxruntime.so.1 through an $ORIGIN-relative rpath: build/ and node_modules/ keep their layout.
COPY --from=build /opt/ortserve/package.json ./package.json
COPY --from=build /opt/ortserve/bin ./bin
COPY --from=build /opt/ortserve/dist ./dist
COPY --from=build /opt/ortserve/schemas ./schemas
COPY --from=build /opt/ortserve/build/Release/ortserve.node ./build/Release/ortserve.node
COPY --from=build /opt/ortserve/node_modules ./node_modules
# /models is the model repository (<model>/<version>/model.onnx): mount yours over it. The example models make a
# bare `docker run` answer.
COPY --chown=10001:10001 examples/models /models
ENV NODE_ENV=production \
    ORTSERVE_HEALTH_URL=http://127.0.0.1:8501/v2/health/ready
USER 10001:10001
# 8501: REST (TF Serving, KServe V2, FlatBuffers, /metrics); 8500: gRPC (KServe V2, TF Serving).
EXPOSE 8501 8500
# Readiness (every model AVAILABLE, and false from the first SIGTERM on); the slim image has no curl.
HEALTHCHECK --interval=10s --timeout=5s --start-period=60s --retries=3 \
  CMD ["node", "-e", "fetch(process.env.ORTSERVE_HEALTH_URL).then((r) => process.exit(r.ok ? 0 : 1), () => process.exit(1))"]
ENTRYPOINT ["/usr/bin/tini", "--", "node", "/opt/ortserve/bin/ortserve.js"]
# Flags after the image name in `docker run` replace this list; the last of a repeated flag wins.
CMD ["--model_base_path=/models", "--rest_api_port=8501", "--port=8500"]
