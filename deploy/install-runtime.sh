#!/usr/bin/env bash
# Every install step of the images (Dockerfile, Dockerfile.gpu), kept here so the Dockerfiles stay
# thin and CI exercises the same script (test/integration/deploy.test.ts runs each step with --dry-run).
#
#   install-runtime.sh system [--dry-run]              Debian/Ubuntu packages (ffmpeg, CA certificates, tini),
#                                                      the non-root user clapset (uid 10001) and its /data folder
#   install-runtime.sh build DEST [--gpu] [--dry-run]  in a checkout: npm ci, npm run build (dist/), drop dev
#                                                      packages, with --gpu fetch onnxruntime-node's CUDA 12
#                                                      provider; then copy what runs into DEST
#
# --dry-run prints each command ("+ …") instead of running it.
set -euo pipefail

usage() {
  sed -n '4,9p' "$0" | sed 's/^# \{0,1\}//' >&2
  exit 2
}

dry=0
gpu=0
args=()
for arg in "$@"; do
  case "$arg" in
    --dry-run) dry=1 ;;
    --gpu) gpu=1 ;;
    -*) echo "install-runtime.sh: unknown option $arg" >&2; usage ;;
    *) args+=("$arg") ;;
  esac
done
[ ${#args[@]} -ge 1 ] || usage
step=${args[0]}

run() {
  if [ "$dry" = 1 ]; then printf '+ %s\n' "$*"; else "$@"; fi
}

# The uid the Kubernetes manifests' securityContext names (runAsUser: 10001).
CLAPSET_UID=10001

case "$step" in
  system)
    [ ${#args[@]} -eq 1 ] || usage
    run apt-get update
    run env DEBIAN_FRONTEND=noninteractive apt-get install -y --no-install-recommends ffmpeg ca-certificates tini
    run sh -c 'rm -rf /var/lib/apt/lists/*'
    run groupadd --system --gid "$CLAPSET_UID" clapset
    run useradd --system --uid "$CLAPSET_UID" --gid clapset --home-dir /data --shell /usr/sbin/nologin clapset
    # /data is where Compose mounts the volume the demo shares between containers; a fresh named
    # volume takes this folder's owner.
    run install -d -o clapset -g clapset /data
    ;;
  build)
    [ ${#args[@]} -eq 2 ] || usage
    dest=${args[1]}
    # Dev packages are needed for tsc; .npmrc skips onnxruntime-node's optional downloads here.
    run npm ci --no-audit --no-fund
    run npm run build
    run npm prune --omit=dev --no-audit --no-fund
    if [ "$gpu" = 1 ]; then
      # The CUDA execution provider is not in the npm package: its install script fetches it (CUDA 12,
      # cuDNN 9). The variable outranks .npmrc's onnxruntime-node-install=skip and any inherited one.
      run env ONNXRUNTIME_NODE_INSTALL=cuda12 npm rebuild onnxruntime-node
    fi
    run mkdir -p "$dest/dashboard"
    # bin/clapset.js runs dist/ (no .ts sources are copied, so it never falls back to tsx); the dashboard's
    # static page is served from the package folder.
    run cp -R package.json package-lock.json bin dist node_modules "$dest/"
    run cp -R dashboard/public "$dest/dashboard/public"
    ;;
  *)
    usage
    ;;
esac
