# Sourced by demo.sh and test.sh: install what tfy-live needs on a fresh
# Debian/Ubuntu machine, system packages included, then a virtualenv in .venv
# that both share (test.sh adds the test extra; neither reinstalls what is there).
# Usage: source scripts/setup.sh [EXTRAS]   (e.g. "test")

set -euo pipefail

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
PYTHON="${PYTHON:-python3}"
VENV="${TFY_LIVE_VENV:-$ROOT/.venv}"
EXTRAS="${1:-}"
# shellcheck source=scripts/lib.sh
source "$ROOT/scripts/lib.sh"

apt_missing=()
apt_why=()
need_deb() {  # need_deb PACKAGE WHY TEST-COMMAND...
    local package="$1" why="$2"; shift 2
    "$@" >/dev/null 2>&1 || { apt_missing+=("$package"); apt_why+=("$package ($why)"); }
}

if ! command -v "$PYTHON" >/dev/null 2>&1; then
    apt_missing+=(python3); apt_why+=("python3 (tfy-live is a Python program)")
fi
if command -v "$PYTHON" >/dev/null 2>&1; then
    "$PYTHON" -c 'import sys; sys.exit(sys.version_info < (3, 11))' || {
        say "tfy-live needs Python 3.11 or newer; $PYTHON is $("$PYTHON" -V 2>&1)"; exit 1; }
    need_deb python3-venv "the virtualenv in .venv" "$PYTHON" -c 'import ensurepip, venv'
    need_deb python3-dev "Python's headers, to build PyAudio" \
        test -f "$("$PYTHON" -c 'import sysconfig; print(sysconfig.get_paths()["include"])')/Python.h"
fi
# PyAudio builds against PortAudio's headers, with a C compiler.
need_deb portaudio19-dev "PortAudio, the sound library PyAudio builds on" \
    sh -c 'test -f /usr/include/portaudio.h || pkg-config --exists portaudio-2.0'
need_deb gcc "the C compiler that builds PyAudio" command -v gcc
need_deb libc6-dev "the C library's headers, for gcc" test -f /usr/include/stdio.h
if [ "$EXTRAS" = "test" ]; then
    need_deb tmux "the tests run the live view in a real terminal" command -v tmux
    need_deb espeak-ng "speech for the echo-cancellation and voice-detection tests" command -v espeak-ng
fi

if [ "${#apt_missing[@]}" -gt 0 ]; then
    command -v apt-get >/dev/null 2>&1 || {
        say "missing: ${apt_missing[*]}; install them with your package manager (README: Installing without the scripts)"
        exit 1; }
    say "installing with apt-get: $(printf '%s; ' "${apt_why[@]}" | sed 's/; $//')"
    apt_get update -qq
    apt_get install -y -qq --no-install-recommends "${apt_missing[@]}"
fi

if [ ! -x "$VENV/bin/python" ]; then
    say "creating the virtualenv $VENV"
    "$PYTHON" -m venv "$VENV"
fi
install_package "$ROOT" "$VENV" "$EXTRAS"
export PATH="$VENV/bin:$PATH"
