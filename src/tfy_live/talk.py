"""Wiring for ``tfy-live talk`` and ``tfy-live local-gateway``: choose the audio
endpoints, start the built-in gateway when asked, connect, converse, report.

No Typer here and no SDK: the connection comes from ``connect=`` (the real
``gateway.connect`` by default), the audio from the adapters in ``audio/``.
"""

from __future__ import annotations

import asyncio
import contextlib
import secrets
import sys
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Callable

from tfy_live.audio import INPUT_RATE, OUTPUT_RATE, AudioSink, AudioSource
from tfy_live.config import Settings
from tfy_live.conversation import Conversation
from tfy_live.endrule import EndRule
from tfy_live.ui import Fanout, JsonOutput, LiveOutput, Output, PlainOutput, TranscriptFile

LOCAL_PROVIDER = "local"


@dataclass(frozen=True)
class AudioChoice:
    input_device: str | None = None
    output_device: str | None = None
    input_file: Path | None = None
    output_file: Path | None = None
    chunk_ms: int = 20


@dataclass(frozen=True)
class OutputChoice:
    json: bool = False
    transcripts: bool = True
    transcript_file: Path | None = None


def open_output(choice: OutputChoice) -> Fanout:
    """The live view on a terminal, plain lines elsewhere, JSON lines when asked; plus the transcript file."""
    outputs: list[Output] = []
    if choice.json:
        outputs.append(JsonOutput(sys.stdout, transcripts=choice.transcripts))
    elif sys.stdout.isatty():
        outputs.append(LiveOutput(transcripts=choice.transcripts))
    else:
        outputs.append(PlainOutput(sys.stdout, transcripts=choice.transcripts))
    if choice.transcript_file is not None:
        try:
            outputs.append(TranscriptFile(choice.transcript_file, transcripts=choice.transcripts))
        except BaseException:
            outputs[0].close()
            raise
    return Fanout(*outputs)


def open_source(choice: AudioChoice) -> AudioSource:
    """The microphone or the input file; checked now, so a bad choice fails before connecting."""
    if choice.input_file is not None:
        from tfy_live.audio.wavfile import WavFileSource

        return WavFileSource(choice.input_file, sample_rate=INPUT_RATE)
    from tfy_live.audio.devices import PyAudioSource

    return PyAudioSource(choice.input_device, sample_rate=INPUT_RATE)


def open_sink(choice: AudioChoice) -> AudioSink:
    if choice.output_file is not None:
        from tfy_live.audio.wavfile import WavFileSink

        return WavFileSink(choice.output_file, sample_rate=OUTPUT_RATE)
    from tfy_live.audio.devices import PyAudioSink

    return PyAudioSink(choice.output_device, sample_rate=OUTPUT_RATE)


def describe(settings: Settings, url: str) -> str:
    return (
        f"provider {settings.provider} ({settings.provider_kind}) · model {settings.model} · "
        f"voice {settings.voice} · {url}"
    )


async def talk(
    settings: Settings,
    audio: AudioChoice,
    *,
    local: bool = False,
    turns: int | None = None,
    reply_timeout: float = 30.0,
    output: OutputChoice = OutputChoice(),
    connect: Callable[..., Any] | None = None,
) -> int:
    """Run one conversation; return the exit code (errors are raised as TfyLiveError)."""
    from tfy_live import gateway

    connect = connect or gateway.connect
    source = open_source(audio)
    sink = open_sink(audio)
    reporter = open_output(output)
    if audio.input_file is not None:
        reporter.input_label = f"{audio.input_file} ({source.duration_s:.1f} s)"
    try:
        await _converse(settings, audio, source, sink, reporter, local=local, turns=turns,
                        reply_timeout=reply_timeout, transcripts=output.transcripts, connect=connect)
    finally:
        reporter.close()
    return 0


async def _converse(settings: Settings, audio: AudioChoice, source: AudioSource, sink: AudioSink, reporter: Any, *,
                    local: bool, turns: int | None, reply_timeout: float, transcripts: bool,
                    connect: Callable[..., Any]) -> None:
    from tfy_live import gateway

    async with contextlib.AsyncExitStack() as stack:
        context = None
        if local:
            from tfy_live.localgw import LocalGateway

            key = secrets.token_urlsafe(24)
            local_gw = await stack.enter_async_context(LocalGateway(api_key=key))
            settings = settings.with_target(
                api_key=key, base_url=local_gw.base_url, provider=settings.provider or LOCAL_PROVIDER,
            )
            context = local_gw.client_ssl_context()
            reporter.status(f"built-in local gateway on {local_gw.base_url} (echo model)")
        url = gateway.socket_url(settings)
        reporter.status(f"connecting: {describe(settings, url)}")
        session = await stack.enter_async_context(connect(settings, context=context, transcripts=transcripts))
        reporter.connected(f"{settings.host} · {settings.provider} · {settings.model} · {settings.voice}")
        rule = EndRule(max_turns=turns, reply_timeout_s=reply_timeout)
        conversation = Conversation(session, source, sink, reporter, chunk_ms=audio.chunk_ms, rule=rule)
        try:
            await conversation.run()
        finally:
            # Also on Ctrl-C or an error: the summary of what happened so far.
            reporter.finished(conversation.summary())


async def serve_local_gateway(*, host: str, port: int, reply_speed: float) -> int:
    """Run the built-in gateway until Ctrl-C, printing how to point a client at it."""
    from rich.console import Console

    from tfy_live.localgw import LocalGateway

    console = Console(highlight=False, soft_wrap=True)
    async with LocalGateway(host=host, port=port, reply_speed=reply_speed) as local_gw:
        console.print(f"[bold]tfy-live local gateway[/bold] (echo model) listening on {local_gw.base_url}")
        console.print(f"CA certificate: {local_gw.ca_file}")
        console.print("Any non-empty API key and any provider account name are accepted. Try:")
        console.print(
            f"  TFY_BASE_URL={local_gw.base_url} TFY_API_KEY=anything SSL_CERT_FILE={local_gw.ca_file} \\\n"
            f"    tfy-live talk --provider {LOCAL_PROVIDER}"
        )
        console.print("[dim]Ctrl-C to stop[/dim]")
        await asyncio.Event().wait()
    return 0
