#!/usr/bin/env bash
# Installs what Modelport needs on a fresh machine, then runs one npm script.
#   bash scripts/bootstrap.sh start   # install, build and serve on http://127.0.0.1:8080/v1
#   bash scripts/bootstrap.sh test    # install and run the whole test suite
# Node.js >= 22.19 is required (type stripping, undici 8); when this machine's node is older (or missing), Node 24 LTS is
# installed from the npm registry into ~/.node24 and used for this run.
set -euo pipefail
cd "$(dirname "$0")/.."

# The tests run TypeScript directly, which needs Node's built-in type stripping (22.18+, 23.6+).
node_ok() { node -e 'const [a, b] = process.versions.node.split(".").map(Number); process.exit((a > 22 || (a === 22 && b >= 19)) && process.features.typescript ? 0 : 1)' 2>/dev/null; }

if ! node_ok; then
  if [ ! -x "$HOME/.node24/node_modules/.bin/node" ]; then
    echo "bootstrap: node $(node --version 2>/dev/null || echo missing) is older than 22.19; installing Node 24 into ~/.node24" >&2
    npm install --prefix "$HOME/.node24" --no-audit --no-fund --loglevel=error node@24 >&2
  fi
  export PATH="$HOME/.node24/node_modules/.bin:$PATH"
fi
echo "bootstrap: using node $(node --version), npm $(npm --version 2>/dev/null)" >&2

# Audio: FFmpeg (every audio format in and out) and PocketSphinx with its English model (speech to
# text), from Debian's packages. Installed when this runs as root with apt; otherwise said once.
AUDIO_PACKAGES="ffmpeg pocketsphinx pocketsphinx-en-us"
# The code interpreter: bubblewrap (the sandbox) and Debian's Python with numpy, pandas and matplotlib.
AUDIO_PACKAGES="$AUDIO_PACKAGES bubblewrap python3 python3-numpy python3-pandas python3-matplotlib"
# The tests also drive a real browser (Debian's Chromium, through playwright-core).
if [ "${1:-start}" = test ]; then AUDIO_PACKAGES="$AUDIO_PACKAGES chromium"; fi
missing=""
for pkg in $AUDIO_PACKAGES; do dpkg -s "$pkg" >/dev/null 2>&1 || missing="$missing $pkg"; done
if [ -n "$missing" ]; then
  if [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null 2>&1; then
    echo "bootstrap: installing Debian packages:$missing" >&2
    (apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends $missing) >&2 \
      || echo "bootstrap: could not install$missing; audio formats other than wav/pcm and speech to text stay off, the code interpreter is unavailable, browser tests are skipped" >&2
  else
    echo "bootstrap: for every audio format, speech to text and the code interpreter, install:$missing (e.g. sudo apt-get install$missing)" >&2
  fi
fi

if [ ! -d node_modules ] || [ package-lock.json -nt node_modules/.package-lock.json ]; then
  # npm install, not npm ci: node-llama-cpp lists prebuilt packages for platforms the registry
  # lacks at this version, which npm leaves out of the lock file and npm ci then rejects.
  npm install --no-audit --no-fund --loglevel=error >&2
fi

exec npm run --silent "${1:-start}" -- "${@:2}"
