# syntax=docker/dockerfile:1
# clapset, CPU: the compiled CLI and workers on Debian's ffmpeg, as the non-root user clapset.
#   docker build -t clapset .        (deploy/compose.yaml and deploy/k8s/ use it; docs/deploy.md)
# Every install step is deploy/install-runtime.sh, which CI exercises.
ARG NODE_IMAGE=node:20-bookworm-slim

FROM ${NODE_IMAGE} AS build
WORKDIR /src
COPY . .
RUN bash deploy/install-runtime.sh build /opt/clapset

FROM ${NODE_IMAGE}
COPY deploy/install-runtime.sh /tmp/install-runtime.sh
RUN bash /tmp/install-runtime.sh system && rm /tmp/install-runtime.sh
COPY --from=build /opt/clapset /opt/clapset
ENV NODE_ENV=production
USER clapset
WORKDIR /data
# Workers serve /metrics, /healthz and /readyz here (clapset worker --metrics-port).
EXPOSE 9464
HEALTHCHECK --interval=30s --timeout=5s --start-period=30s \
  CMD ["node", "-e", "fetch('http://127.0.0.1:9464/healthz').then((r) => process.exit(r.ok ? 0 : 1), () => process.exit(1))"]
ENTRYPOINT ["tini", "--", "node", "/opt/clapset/bin/clapset.js"]
CMD ["worker", "--metrics-port", "9464"]
