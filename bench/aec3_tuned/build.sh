#!/usr/bin/env bash
# Builds WebRTC's audio processing module 2.1 (AEC3) from source with a small C shim whose
# suppressor settings can be changed, for bench/aec3_tuned/tune.py. An experiment, not part of
# tfy-live: no wheel on PyPI exposes AEC3's settings (livekit and pywebrtc-audio build it with
# the defaults), so this is what shipping a tuned suppressor would take.
# Needs g++, ninja and network access to PyPI; about 5 minutes on 2 cores. Output: $OUT/libaec3shim.so
set -euo pipefail
HERE="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
OUT="${OUT:-/tmp/aec3_tuned}"
# The source: the sdist of aec-audio-processing 1.0.1, which carries webrtc-audio-processing 2.1 and abseil.
URL=https://files.pythonhosted.org/packages/9e/f1/d4c91eeaed6a2d91b448eb3eb17c150a505973aa7c5495d8772325918e38/aec_audio_processing-1.0.1.tar.gz
SHA256=f03a3ce3f45bf15a04a8504d0f692a651180ca2d3171bd9f3de0516e5f2b8360
mkdir -p "$OUT" && cd "$OUT"
command -v g++ >/dev/null && command -v ninja >/dev/null || {
    echo "needs g++ and ninja: apt-get install g++ ninja-build" >&2; exit 1; }
[ -f src.tar.gz ] || curl -fsSL -o src.tar.gz "$URL"
echo "$SHA256  src.tar.gz" | sha256sum -c --quiet
[ -d aec_audio_processing-1.0.1 ] || tar xzf src.tar.gz
[ -x venv/bin/meson ] || { python3 -m venv venv && venv/bin/pip install -q meson; }
W="$OUT/aec_audio_processing-1.0.1/webrtc-audio-processing"
[ -d build ] || (cd "$W" && "$OUT/venv/bin/meson" setup "$OUT/build" -Ddefault_library=static -Dbuildtype=release \
    -Dcpp_args=-fPIC -Dc_args=-fPIC --wrap-mode=nodownload >/dev/null)
ninja -C build >/dev/null
g++ -O2 -fPIC -shared -std=c++20 -DNDEBUG -DWEBRTC_LINUX -DWEBRTC_POSIX -DWEBRTC_APM_DEBUG_DUMP=0 \
    -I"$W/webrtc" -I"$W" -I"$W/subprojects/abseil-cpp-20240722.0" -I"$OUT/build" -I"$OUT/build/webrtc" \
    "$HERE/aec3shim.cc" -o libaec3shim.so -Wl,--start-group $(find build/ -name '*.a') -Wl,--end-group -lpthread
echo "$OUT/libaec3shim.so"
