"""The wire probe: when frames leave and reach the program's own socket, for the benchmarks.

Python imports ``sitecustomize`` at start-up from the first directory on
PYTHONPATH that has one, so with this directory there (as for the stand-in
PyAudio) both tfy-live and the seed sample are probed alike, unmodified. Only
when ``BENCH_WIRE_LOG`` names a file; then it wraps websockets' asyncio
connection, which google-genai uses:

- ``send``: once a frame has been handed to the transport (on loopback it has
  left the socket when ``send`` returns), a ``sent-audio`` line for each
  microphone frame (``realtime_input`` audio or the seed's ``media_chunks``);
- ``data_received``: the moment bytes are read from the socket (decrypted in
  the same callback) is stamped, and each data frame they complete is logged as
  ``setup``, ``audio`` (model audio), ``interrupted`` or ``other`` (Gemini's frames, and the OpenAI
  realtime events of ``--provider-kind openai``: ``session.updated``, ``speech_started``, audio deltas).

Lines are ``<CLOCK_MONOTONIC seconds> <kind>``, buffered and written at exit.
The probe costs a few microseconds a frame: the CPU benchmark runs without it.
"""

from __future__ import annotations

import atexit
import os
import time

_PATH = os.environ.get("BENCH_WIRE_LOG")


def _install(path: str) -> None:
    from websockets.asyncio.connection import Connection

    lines: list[str] = []
    atexit.register(lambda: open(path, "a").write("".join(lines)))
    send, data_received, process_event = Connection.send, Connection.data_received, Connection.process_event

    async def probed_send(self, message, *args, **kwargs):
        result = await send(self, message, *args, **kwargs)
        if isinstance(message, str) and ((message.startswith('{"realtime_input"') and (
                '"audio": {"data"' in message[:40] or "media_chunks" in message[:60]))
                or '"input_audio_buffer.append"' in message):  # the openai kind's microphone frame
            lines.append(f"{time.monotonic():.6f} sent-audio\n")
        return result

    def probed_data_received(self, data):
        self._probe_arrived = time.monotonic()
        return data_received(self, data)

    def probed_process_event(self, event):
        if event.opcode.name in ("TEXT", "BINARY"):
            head = bytes(event.data[:200])
            # Gemini's frames, and the openai kind's: the setup taken, the user heard over the reply, model audio.
            if b'"setupComplete"' in head or b'"session.updated"' in head:
                kind = "setup"
            elif b'"interrupted"' in head or b'"input_audio_buffer.speech_started"' in head:
                kind = "interrupted"
            elif (b'"modelTurn"' in head and b'"inlineData"' in head) or b'"response.output_audio.delta"' in head:
                kind = "audio"
            else:
                kind = "other"
            lines.append(f"{getattr(self, '_probe_arrived', time.monotonic()):.6f} {kind}\n")
        return process_event(self, event)

    Connection.send = probed_send
    Connection.data_received = probed_data_received
    Connection.process_event = probed_process_event


if _PATH:
    _install(_PATH)
