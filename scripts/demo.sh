#!/usr/bin/env bash
# Install tfy-live and talk to the built-in local gateway (an echo model): no
# account needed. With a sound card: speak, and hear yourself echoed back.
# Without one: examples/hello.wav is spoken to it and the reply lands in reply.wav.
set -euo pipefail
source "$(dirname "$0")/setup.sh"
cd "$ROOT"
has_sound_card() {
    [ -r /proc/asound/cards ] && ! grep -q "no soundcards" /proc/asound/cards
}
if [ -z "${TFY_LIVE_DEMO_FILES:-}" ] && has_sound_card; then
    exec tfy-live talk --local "$@"
fi
echo "No sound card here: speaking examples/hello.wav to the local gateway, reply into reply.wav" >&2
tfy-live talk --local --input-file examples/hello.wav --output-file reply.wav --overwrite "$@"
python - <<'PY'
import soundfile
info = soundfile.info("reply.wav")
print(f"reply.wav: {info.duration:.2f} s of the model's audio at {info.samplerate} Hz ({info.channels} channel)")
PY
