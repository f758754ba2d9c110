# Modelport image: multi-stage, Node 24 on Debian 12 (bookworm), runs as a non-root user.
#
#   docker build -t modelport .
#   docker run --rm -v modelport-models:/models modelport pull qwen2.5-0.5b-instruct
#   docker run -d -p 8080:8080 -v modelport-models:/models -v modelport-data:/data \
#     -e MODELPORT_API_KEYS=sk-change-me modelport
#
# Models (GGUF files) live in the /models volume and everything else the server writes (SQLite
# database unless MODELPORT_DATABASE_URL is set, uploaded files, containers, prefix-cache files,
# the generated admin key) in the /data volume. See docs/deploy.md.

ARG NODE_IMAGE=node:24-bookworm-slim

# ---- build: install every dependency, compile dist/ and the admin UI (dist/web), drop dev deps ----
FROM ${NODE_IMAGE} AS build
WORKDIR /src
COPY package.json package-lock.json ./
# --ignore-scripts: the package's own `prepare` (the build) needs the sources copied below, and
# node-llama-cpp's postinstall only checks its prebuilt binaries (the server loads them with
# build: "never", so nothing is ever compiled). npm install, not npm ci: see scripts/bootstrap.sh.
RUN npm install --no-audit --no-fund --ignore-scripts
COPY tsconfig.json ./
COPY bin ./bin
COPY src ./src
COPY web ./web
RUN npm run build && npm prune --omit=dev --ignore-scripts --no-audit --no-fund
# node-llama-cpp installs its CUDA and Vulkan prebuilt binaries too (about 600 MB). They only load
# where the GPU libraries are present (docs/deploy.md); build with --build-arg GPU_BINARIES=false
# for a CPU-only image without them.
ARG GPU_BINARIES=true
RUN if [ "$GPU_BINARIES" = "false" ]; then rm -rf node_modules/@node-llama-cpp/*-cuda* node_modules/@node-llama-cpp/*-vulkan; fi

# ---- runtime ----
FROM ${NODE_IMAGE} AS runtime
# The same Debian packages scripts/bootstrap.sh installs: FFmpeg and PocketSphinx (audio formats,
# speech to text), bubblewrap and Debian's Python with numpy, pandas and matplotlib (the code
# interpreter's sandbox; it only starts where the container may create namespaces, see
# docs/deploy.md, and is refused with a 400 otherwise), tini as PID 1 to reap child processes.
RUN apt-get update \
 && DEBIAN_FRONTEND=noninteractive apt-get install -y --no-install-recommends \
      ffmpeg pocketsphinx pocketsphinx-en-us \
      bubblewrap python3 python3-numpy python3-pandas python3-matplotlib \
      tini ca-certificates \
 && rm -rf /var/lib/apt/lists/*

RUN groupadd --system --gid 10001 modelport \
 && useradd --system --uid 10001 --gid modelport --create-home --home-dir /home/modelport --shell /usr/sbin/nologin modelport \
 && mkdir -p /models /data \
 && chown modelport:modelport /models /data

WORKDIR /app
# The application stays owned by root: the server cannot rewrite its own code.
COPY --from=build /src/package.json ./package.json
COPY --from=build /src/bin ./bin
COPY --from=build /src/dist ./dist
COPY --from=build /src/node_modules ./node_modules

ENV NODE_ENV=production \
    MODELPORT_HOST=0.0.0.0 \
    MODELPORT_PORT=8080 \
    MODELPORT_MODELS_DIR=/models \
    MODELPORT_DATA_DIR=/data

USER modelport:modelport
VOLUME ["/models", "/data"]
EXPOSE 8080

# /ready is 200 only once every model is loaded and until SIGTERM starts the drain. The server
# listens only after its models have loaded, hence the long start period for large models.
HEALTHCHECK --interval=15s --timeout=5s --start-period=10m --retries=3 \
  CMD ["node", "-e", "const tls=!!process.env.MODELPORT_TLS_CERT;require(tls?'node:https':'node:http').get({host:'127.0.0.1',port:process.env.MODELPORT_PORT||8080,path:'/ready',rejectUnauthorized:false,timeout:4000},(r)=>process.exit(r.statusCode===200?0:1)).on('error',()=>process.exit(1)).on('timeout',()=>process.exit(1))"]

# SIGTERM (docker stop, Kubernetes) drains: /ready turns 503, in-flight requests finish for up to
# MODELPORT_SHUTDOWN_TIMEOUT_MS (15 s by default), then the engine is freed. Give the container a
# longer stop timeout than that (docker stop -t, compose stop_grace_period).
STOPSIGNAL SIGTERM
ENTRYPOINT ["/usr/bin/tini", "--", "node", "/app/bin/modelport.js"]
CMD ["serve"]
