# Sourced by demo.sh and test.sh: install what tfy-live needs on a fresh
# Debian/Ubuntu machine, system packages included, then a virtualenv in .venv.
# Usage: source scripts/setup.sh [EXTRAS]   (e.g. "test")

set -euo pipefail

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
PYTHON="${PYTHON:-python3}"
VENV="${TFY_LIVE_VENV:-$ROOT/.venv}"
EXTRAS="${1:-}"

say() { printf '\033[2m[setup] %s\033[0m\n' "$*" >&2; }

as_root() {
    if [ "$(id -u)" -eq 0 ]; then "$@"
    elif command -v sudo >/dev/null 2>&1; then sudo "$@"
    else say "need root to run: $*  (install sudo or run as root)"; return 1
    fi
}

apt_missing=()
need_deb() {  # need_deb PACKAGE TEST-COMMAND...
    local package="$1"; shift
    "$@" >/dev/null 2>&1 || apt_missing+=("$package")
}

if ! command -v "$PYTHON" >/dev/null 2>&1; then
    apt_missing+=(python3)
fi
if command -v "$PYTHON" >/dev/null 2>&1; then
    "$PYTHON" -c 'import sys; sys.exit(sys.version_info < (3, 11))' || {
        say "tfy-live needs Python 3.11 or newer; $PYTHON is $("$PYTHON" -V 2>&1)"; exit 1; }
    need_deb python3-venv "$PYTHON" -c 'import ensurepip, venv'
    need_deb python3-dev test -f "$("$PYTHON" -c 'import sysconfig; print(sysconfig.get_paths()["include"])')/Python.h"
fi
# PyAudio builds against PortAudio's headers, with a C compiler.
need_deb portaudio19-dev sh -c 'test -f /usr/include/portaudio.h || pkg-config --exists portaudio-2.0'
need_deb gcc command -v gcc
need_deb libc6-dev test -f /usr/include/stdio.h
if [ "$EXTRAS" = "test" ]; then
    need_deb tmux command -v tmux  # the live view is tested in a real terminal
    need_deb espeak-ng command -v espeak-ng  # speech for the echo-cancellation and voice-detection tests
fi

if [ "${#apt_missing[@]}" -gt 0 ]; then
    command -v apt-get >/dev/null 2>&1 || {
        say "missing: ${apt_missing[*]}; install them with your package manager"; exit 1; }
    say "installing system packages: ${apt_missing[*]}"
    as_root env DEBIAN_FRONTEND=noninteractive apt-get update -qq
    as_root env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends "${apt_missing[@]}" >/dev/null
fi

if [ ! -x "$VENV/bin/python" ]; then
    say "creating virtualenv $VENV"
    "$PYTHON" -m venv "$VENV"
fi
# Reinstall only when the package's metadata changed since the last install.
stamp="$VENV/.tfy-live-installed"
want="$(cat "$ROOT/pyproject.toml" | sha256sum | cut -c1-16)-$EXTRAS"
if [ ! -f "$stamp" ] || ! grep -qx -- "$want" "$stamp" 2>/dev/null; then
    say "installing tfy-live${EXTRAS:+[$EXTRAS]} into $VENV"
    "$VENV/bin/python" -m pip install -q --disable-pip-version-check --upgrade pip
    "$VENV/bin/python" -m pip install -q --disable-pip-version-check -e "$ROOT${EXTRAS:+[$EXTRAS]}"
    echo "$want" > "$stamp"
fi
export PATH="$VENV/bin:$PATH"
