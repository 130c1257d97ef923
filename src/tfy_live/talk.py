"""Wiring for ``tfy-live talk``, ``chat`` and ``local-gateway``: choose the audio
endpoints, start the built-in gateway when asked, connect, converse, report.

No Typer here and no SDK: the connection comes from ``connect=`` (the real
``gateway.connect`` by default), the audio from the adapters in ``audio/``.
"""

from __future__ import annotations

import asyncio
import contextlib
import secrets
import shlex
import sys
import time
from dataclasses import dataclass
from pathlib import Path
import ssl
from contextlib import AbstractAsyncContextManager
from typing import TYPE_CHECKING, AsyncIterator, Protocol

from tfy_live.audio import CHUNK_MS, INPUT_RATE, OUTPUT_RATE, AudioSink, AudioSource, NullSink
from tfy_live.config import Settings
from tfy_live.conversation import Conversation, Recorder
from tfy_live.echoguard import OVER_ECHO_THRESHOLD, EchoGuard, EchoOptions
from tfy_live.endrule import EndRule
from tfy_live.events import Scheduling
from tfy_live.errors import ConfigError, NoDeviceError
from tfy_live.link import MAX_ATTEMPTS, Link
from tfy_live.outfiles import Policy, Target, check, refuse_same_file
from tfy_live.session import Session
from tfy_live.shaping import ModelOptions
from tfy_live.timeline import Timeline
from tfy_live.ui import Fanout, JsonOutput, LiveOutput, Output, PlainOutput, TranscriptFile, transcript_target
from tfy_live.voices import OPENAI_KINDS

if TYPE_CHECKING:  # pragma: no cover - the tools' modules load only when tools are asked for
    from tfy_live.tools.config import ServerConfig
    from tfy_live.tools.runner import ToolRunner

LOCAL_PROVIDER = "local"
# Speech that ships in the wheel: `talk --local` speaks it on a machine without a microphone, so the
# round trip shows anywhere (16 kHz mono FLAC, 3.7 s, 53 kB: examples/hello.wav, less silence at the end).
SAMPLE = Path(__file__).parent / "data" / "hello.flac"


class Connect(Protocol):
    """Opens one connection as a ``Session`` (``gateway.connect``, or a test's stand-in)."""

    def __call__(self, settings: Settings, *, context: ssl.SSLContext | None = None,
                 options: ModelOptions = ModelOptions(), transcripts: bool = True,
                 handle: str | None = None) -> AbstractAsyncContextManager[Session]: ...


@dataclass(frozen=True)
class AudioChoice:
    input_device: str | None = None
    output_device: str | None = None
    input_file: Path | None = None
    output_file: Path | None = None
    chunk_ms: int = CHUNK_MS


@dataclass(frozen=True)
class ToolChoice:
    """The tool options as given: MCP servers (a config file, URLs), timeout, mode, approval, muting."""

    config_file: Path | None = None
    urls: tuple[str, ...] = ()
    timeout_s: float = 30.0
    mode: str = "blocking"  # or non-blocking
    approve: str | None = None  # --approve-tools (None: ask on a terminal, none elsewhere)
    mute: bool = False
    scheduling: str = "when-idle"  # a non-blocking result: when-idle, interrupt or silent

    @property
    def result_scheduling(self) -> Scheduling | None:
        """What each result of a non-blocking call asks of the model (None: blocking calls)."""
        if self.mode != "non-blocking":
            return None
        chosen: dict[str, Scheduling] = {"when-idle": "when_idle", "interrupt": "interrupt", "silent": "silent"}
        return chosen[self.scheduling]

    @property
    def wanted(self) -> bool:
        return self.config_file is not None or bool(self.urls)


def check_tools(choice: ToolChoice, kind: str = "gemini") -> list[ServerConfig]:
    """The servers to use, read and checked before anything is opened (a bad file: exit 2)."""
    if choice.mode not in ("blocking", "non-blocking"):
        raise ConfigError(f"--tool-mode must be blocking or non-blocking (got {choice.mode!r})")
    if choice.scheduling not in ("when-idle", "interrupt", "silent"):
        raise ConfigError(f"--tool-scheduling must be when-idle, interrupt or silent (got {choice.scheduling!r})")
    if choice.scheduling != "when-idle" and choice.mode != "non-blocking":
        raise ConfigError(f"--tool-scheduling {choice.scheduling} applies to non-blocking calls: add "
                          "--tool-mode non-blocking, or drop it")
    if choice.mode == "non-blocking" and kind in OPENAI_KINDS:
        # Refused, not ignored: the realtime API has no NON_BLOCKING declaration and no scheduling of a result.
        # Its model never waits for a call anyway: the user can speak while it runs (README, Tools).
        raise ConfigError(f"--tool-mode non-blocking applies to the gemini and vertex provider kinds only (this is "
                          f"{kind}: the realtime API has no non-blocking functions, and the conversation goes on "
                          "while a tool runs anyway); drop it")
    if not choice.wanted:
        return []
    from tfy_live.tools import config, servers
    from tfy_live.tools.approval import parse_approval

    parse_approval(choice.approve, interactive=True)  # a malformed value is refused before a server starts
    configs = config.servers(choice.config_file, list(choice.urls))
    servers.require()
    return configs


@dataclass(frozen=True)
class OutputChoice:
    json: bool = False
    transcripts: bool = True
    transcript_file: Path | None = None
    record: Path | None = None
    files: Policy = Policy()  # what happens to an output file that exists (--overwrite)


def check_push_to_talk(options: ModelOptions, *, input_file: bool = False, sample: bool = False) -> None:
    """Refuse push-to-talk with a file to speak: no Enter would ever come, and the wait would end in a timeout
    blamed on the file (exit 3). A file, or the sample spoken where there is no microphone, is one turn already."""
    if not options.push_to_talk:
        return
    # It may come from the environment or .env, where "drop --push-to-talk" finds nothing on the command line.
    drop = "drop --push-to-talk (and TFY_LIVE_PUSH_TO_TALK from the environment or .env)"
    if input_file:
        raise ConfigError("--push-to-talk needs a microphone and Enter presses, and --input-file is already one "
                          f"turn: {drop}")
    if sample:
        raise ConfigError("--push-to-talk needs a microphone and Enter presses, and there is no microphone here "
                          f"(tfy-live would speak its sample, already one turn): {drop}")


def check_files(input_file: Path | None, output_file: Path | None, output: OutputChoice) -> None:
    """Refuse, before anything is opened, an output that is the input or another output, or that exists,
    is a link, a directory, or in a missing folder: opening it would destroy what is there."""
    refuse_same_file([("--input-file", input_file), ("--output-file", output_file),
                      ("--transcript", output.transcript_file), ("--record", output.record)])
    if output_file is not None:
        check(Target(output_file, "--output-file", "output file"), output.files)
    if output.transcript_file is not None:
        check(transcript_target(output.transcript_file), output.files)
    if output.record is not None:
        check(Target(output.record, "--record", "recording"), output.files)


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
            outputs.append(TranscriptFile(choice.transcript_file, policy=choice.files,
                                          transcripts=choice.transcripts))
        except BaseException:
            outputs[0].close()
            raise
    return Fanout(*outputs)


def open_source(choice: AudioChoice, *, sample: Path | None = None) -> tuple[AudioSource, str | None]:
    """The microphone, or the input file with a label for it; checked now, so a bad choice fails before connecting.

    ``sample``: what to speak instead when the machine has no microphone at all and none was named.
    """
    if choice.input_file is not None:
        from tfy_live.audio.wavfile import WavFileSource

        source = WavFileSource(choice.input_file, sample_rate=INPUT_RATE)
        return source, f"{choice.input_file} ({source.duration_s:.1f} s)"
    from tfy_live.audio.devices import PyAudioSource

    try:
        return PyAudioSource(choice.input_device, sample_rate=INPUT_RATE), None
    except NoDeviceError:
        if sample is None or choice.input_device is not None:
            raise
    from tfy_live.audio.wavfile import WavFileSource  # numpy and libsndfile: a tenth of a second, only if needed

    source = WavFileSource(sample, sample_rate=INPUT_RATE)
    return source, f"tfy-live's sample {sample.name} ({source.duration_s:.1f} s)"


def open_sink(choice: AudioChoice, files: Policy = Policy(), *, fallback: bool = False) -> AudioSink:
    """The speaker or the output file; with ``fallback``, a machine without any speaker gets a NullSink."""
    if choice.output_file is not None:
        from tfy_live.audio.wavfile import WavFileSink

        return WavFileSink(choice.output_file, sample_rate=OUTPUT_RATE, policy=files)
    from tfy_live.audio.devices import PyAudioSink

    try:
        return PyAudioSink(choice.output_device, sample_rate=OUTPUT_RATE)
    except NoDeviceError:
        if not fallback or choice.output_device is not None:
            raise
    return NullSink(OUTPUT_RATE)


def _open_source_or_say_what_is_missing(audio: AudioChoice, files: Policy, *,
                                        local: bool) -> tuple[AudioSource, str | None]:
    """``open_source``; on a machine with no input device and no output device either, one error naming both
    file options (fixing the first, as its line says, would only meet the second)."""
    try:
        return open_source(audio, sample=SAMPLE if local else None)
    except NoDeviceError as no_input:
        if audio.output_file is not None:
            raise
        try:
            open_sink(audio, files, fallback=local)  # a PyAudioSink only chooses its device until it is entered
        except NoDeviceError as no_output:
            if str(no_output) == str(no_input):  # PortAudio itself is missing: its line names both options already
                raise
            raise NoDeviceError("no audio input or output device found; pass --input-file FILE.wav --output-file "
                                "FILE.wav to use files instead") from None
        raise


def open_guard(options: EchoOptions, source: AudioSource, sink: AudioSink, *,
               microphone: bool) -> tuple[EchoGuard | None, str]:
    """Echo cancellation, half-duplex and local barge-in as asked and installed; checked before connecting.

    None when all three are off: the microphone goes to the wire untouched.
    """
    from tfy_live.audio import echo, vad
    from tfy_live.echoguard import plan

    chosen = plan(options, microphone=microphone, aec_installed=echo.available(), vad_installed=vad.available())
    canceller = onset = doubletalk = None
    if chosen.aec:
        from tfy_live.audio.doubletalk import DoubleTalk

        canceller = echo.EchoCanceller(near_rate=source.sample_rate, far_rate=sink.sample_rate,
                                       noise_suppression=options.noise_suppression, high_pass=options.high_pass)
        doubletalk = DoubleTalk(source.sample_rate, sink.sample_rate)
    if chosen.local_barge_in:
        # With the double-talk detector the voice detector hears only what stands out of the echo (silence while
        # the model alone is heard), so a lower bar than on the cleaned microphone catches the user's first word.
        onset = vad.SpeechOnset(vad.OnsetRule(threshold=OVER_ECHO_THRESHOLD) if doubletalk is not None else None)
    if not (chosen.aec or chosen.local_barge_in or chosen.half_duplex):
        return None, chosen.note
    guard = EchoGuard(canceller=canceller, onset=onset, doubletalk=doubletalk, half_duplex=chosen.half_duplex, tail_s=options.tail_s,
                      far_rate=sink.sample_rate, near_rate=source.sample_rate)
    return guard, chosen.note


def connector(settings: Settings, *, replay_context: bool = False) -> Connect:
    """The real connection for the settings' provider kind: google-genai's Live for gemini and vertex, the openai
    SDK's realtime client for openai and azure (checked now: a missing extra fails before anything opens)."""
    if settings.provider_kind not in OPENAI_KINDS:
        from tfy_live import gateway

        return gateway.connect
    from tfy_live.audio import installed

    if not installed("openai"):
        from tfy_live.extras import install_extra

        raise ConfigError(f"provider kind {settings.provider_kind} needs the optional 'openai' extra (the openai "
                          f"package is not installed): run `{install_extra('openai')}`")
    from tfy_live.gateway_openai import Connector

    return Connector(replay_context=replay_context)


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
    options: ModelOptions = ModelOptions(),
    output: OutputChoice = OutputChoice(),
    echo: EchoOptions = EchoOptions(),
    connect: Connect | None = None,
    reconnect_attempts: int | None = None,
    tools: ToolChoice = ToolChoice(),
    replay_context: bool = False,
) -> int:
    """Run one conversation; return the exit code (errors are raised as TfyLiveError)."""
    connect = connect or connector(settings, replay_context=replay_context)
    check_push_to_talk(options, input_file=audio.input_file is not None)
    check_files(audio.input_file, audio.output_file, output)
    servers = check_tools(tools, settings.provider_kind)
    # With the built-in gateway, a machine without a sound card still shows the round trip: the sample
    # is spoken, and the reply is shown (and written with --output-file) rather than played.
    source, input_label = _open_source_or_say_what_is_missing(audio, output.files, local=local)
    check_push_to_talk(options, sample=input_label is not None)
    sink = open_sink(audio, output.files, fallback=local)
    guard, echo_note = open_guard(echo, source, sink, microphone=input_label is None)
    async with contextlib.AsyncExitStack() as stack:
        recorder = None
        if output.record is not None:
            from tfy_live.recorder import Recorder

            recorder = stack.enter_context(Recorder(output.record, mic_rate=source.sample_rate, rate=sink.sample_rate,
                                                    policy=output.files))
        reporter = open_output(output)
        stack.callback(reporter.close)
        reporter.input_label = input_label
        rule = EndRule(max_turns=turns, reply_timeout_s=reply_timeout)
        reporter.status(echo_note)
        if audio.input_file is None and input_label is not None:
            reporter.status("no microphone here: tfy-live speaks its own sample instead (--input-file FILE speaks yours)")
        if isinstance(sink, NullSink):
            reporter.status("no speaker here: the reply is shown, not played (--output-file FILE.wav keeps it)")
        # Approval is asked for at a terminal (the live view shows the call; a typed line answers it).
        interactive = not output.json and audio.input_file is None and sys.stdin.isatty() and sys.stdout.isatty()
        await _converse(settings, source, sink, reporter, rule, local=local, options=options,
                        transcripts=output.transcripts, connect=connect, chunk_ms=audio.chunk_ms, recorder=recorder,
                        guard=guard, reconnect_attempts=reconnect_attempts,
                        tools=_ToolSetup(tools, servers, interactive))
    return 0


async def chat(
    settings: Settings,
    *,
    messages: list[str] | None = None,
    speak: bool = False,
    output_device: str | None = None,
    output_file: Path | None = None,
    local: bool = False,
    reply_timeout: float = 30.0,
    options: ModelOptions = ModelOptions(),
    output: OutputChoice = OutputChoice(),
    connect: Connect | None = None,
    tools: ToolChoice = ToolChoice(),
) -> int:
    """A text conversation: ``messages`` if given, else lines from standard input, one reply each."""
    from rich.console import Console

    from tfy_live.audio import NullSink
    from tfy_live.ui import ChatOutput, StdoutConsole

    connect = connect or connector(settings)
    check_files(None, output_file, output)
    servers = check_tools(tools, settings.provider_kind)
    if servers and messages and (tools.approve or "").strip().lower() == "ask":
        raise ConfigError("--approve-tools ask reads y/n/a from standard input, and with messages given as arguments "
                          "there is none to read: pipe the messages instead, or use --approve-tools all, read-only "
                          "or tool names")
    sink: AudioSink = NullSink()
    if speak or output_file is not None:
        sink = open_sink(AudioChoice(output_device=output_device, output_file=output_file), output.files)
    if messages:
        lines: AsyncIterator[str] = _given(messages)
    else:
        from tfy_live.keyboard import typed_lines

        lines = typed_lines()
    async with contextlib.AsyncExitStack() as stack:
        outputs: list[Output] = []
        if output.json:
            outputs.append(JsonOutput(sys.stdout, transcripts=output.transcripts))
        else:
            interactive = not messages and sys.stdin.isatty() and sys.stdout.isatty()
            out = StdoutConsole(highlight=False, soft_wrap=True)
            err = Console(stderr=True, highlight=False, soft_wrap=True)
            outputs.append(ChatOutput(out, err, interactive=interactive, transcripts=output.transcripts))
        stack.callback(outputs[0].close)
        if output.transcript_file is not None:
            outputs.append(TranscriptFile(output.transcript_file, policy=output.files, transcripts=output.transcripts))
            stack.callback(outputs[-1].close)
        reporter = Fanout(*outputs)
        rule = EndRule(grace_s=0.0, reply_timeout_s=reply_timeout)
        interactive = not messages and not output.json and sys.stdin.isatty() and sys.stdout.isatty()
        await _converse(settings, None, sink, reporter, rule, local=local, options=options,
                        transcripts=output.transcripts, connect=connect, lines=lines,
                        tools=_ToolSetup(tools, servers, interactive))
    return 0


async def _given(messages: list[str]) -> AsyncIterator[str]:
    for message in messages:
        yield message


@dataclass(frozen=True)
class _ToolSetup:
    choice: ToolChoice
    servers: list[ServerConfig]
    interactive: bool  # a person at a terminal can be asked to approve a call


async def _start_tools(setup: _ToolSetup, settings: Settings, reporter: Fanout, stack: contextlib.AsyncExitStack,
                       options: ModelOptions) -> tuple[ModelOptions, ToolRunner | None]:
    """Connect to the MCP servers (all at once, each within a time limit), declare their tools, and make the
    runner; a server that fails is one notice. No servers: the options as they were, and no runner."""
    if not setup.servers:
        return options, None
    from dataclasses import replace

    from tfy_live.tools import catalog
    from tfy_live.tools.approval import parse_approval
    from tfy_live.tools.runner import ToolRunner
    from tfy_live.tools.servers import McpServers
    from tfy_live.tools.view import tools_command

    servers = McpServers(setup.servers, base_url=settings.base_url, api_key=settings.api_key)
    await stack.enter_async_context(servers)
    for warning in servers.warnings:
        reporter.notice(warning)
    approval = parse_approval(setup.choice.approve, interactive=setup.interactive)
    for name in approval.unknown_names(servers.tools):
        listing = tools_command(setup.choice.config_file, setup.choice.urls)
        reporter.notice(f"--approve-tools names {name!r}, which no server offers (see `{listing}`)")
    listed = ", ".join(tool.exposed for tool in servers.tools) or "none"
    connected = sum(status.error is None for status in servers.statuses)
    reporter.status(f"tools from {connected} of {len(setup.servers)} MCP server{'s' if len(setup.servers) != 1 else ''}: "
                    f"{listed} ({approval.describe()})")
    non_blocking = setup.choice.mode == "non-blocking"
    runner = ToolRunner(servers.tools, servers.call, approval, timeout_s=setup.choice.timeout_s,
                        scheduling=setup.choice.result_scheduling)
    return replace(options, tools=catalog.specs(servers.tools, non_blocking=non_blocking)), runner


async def _converse(settings: Settings, source: AudioSource | None, sink: AudioSink, reporter: Fanout, rule: EndRule,
                    *, local: bool, options: ModelOptions, transcripts: bool, connect: Connect,
                    chunk_ms: float = CHUNK_MS, recorder: Recorder | None = None,
                    lines: AsyncIterator[str] | None = None, guard: EchoGuard | None = None,
                    reconnect_attempts: int | None = None, tools: _ToolSetup | None = None) -> None:
    from tfy_live import gateway

    if lines is None:
        from tfy_live.keyboard import typed_lines

        # With the live view on a terminal, it draws the line being typed (no terminal echo).
        live = any(isinstance(o, LiveOutput) for o in getattr(reporter, "outputs", ()))
        lines = typed_lines(on_edit=reporter.typing if live else None)

    async with contextlib.AsyncExitStack() as stack:
        if hasattr(lines, "aclose"):
            stack.push_async_callback(lines.aclose)  # gives the terminal its settings back
        context = None
        if local:
            from tfy_live.localgw import LocalGateway

            key = secrets.token_urlsafe(24)
            from tfy_live import debuglog

            debuglog.protect(key)
            local_gw = await stack.enter_async_context(LocalGateway(api_key=key))
            settings = settings.with_target(
                api_key=key, base_url=local_gw.base_url, provider=settings.provider or LOCAL_PROVIDER,
            )
            context = local_gw.client_ssl_context()
            reporter.status(f"built-in local gateway on {local_gw.base_url} (echo model)")
        runner = None
        if tools is not None:
            options, runner = await _start_tools(tools, settings, reporter, stack, options)
        url = gateway.socket_url(settings)
        reporter.status(f"connecting: {describe(settings, url)}")
        context = context or gateway.ssl_context(settings)  # once: every reconnect trusts the same CAs

        def open_session(handle: str | None) -> AbstractAsyncContextManager[Session]:
            return connect(settings, context=context, options=options, transcripts=transcripts, handle=handle)

        # The link and the conversation share the timeline: the link moves to a new connection only
        # when the user is not mid-sentence.
        timeline = Timeline(started=time.monotonic())
        # The link tries a first connection that meets a brief outage again, and says so through the reporter.
        session = await stack.enter_async_context(Link(
            open_session, chunk_s=chunk_ms / 1000, can_switch=lambda: not timeline.user_speaking(time.monotonic()),
            max_attempts=reconnect_attempts or MAX_ATTEMPTS, report=reporter.connection))
        reporter.connected(f"{settings.host} · {settings.provider} · {settings.model} · {settings.voice}")
        if options.push_to_talk:
            reporter.status("push-to-talk: press Enter to start speaking and Enter again when done")
        conversation = Conversation(
            session, source, sink, reporter, chunk_ms=chunk_ms, rule=rule, lines=lines,
            push_to_talk=options.push_to_talk, recorder=recorder, guard=guard, timeline=timeline,
            tools=runner, mute_during_tools=tools is not None and tools.choice.mute,
        )
        try:
            await conversation.run()
        finally:
            # Also on Ctrl-C or an error: the summary of what happened so far.
            reporter.finished(conversation.summary())


async def serve_local_gateway(*, host: str, port: int, reply_speed: float, replay: Path | None = None,
                              replay_speed: float = 1.0, replay_then: str | None = None) -> int:
    """Run the built-in gateway until Ctrl-C, printing how to point a client at it.

    With ``replay``, each connection gets the file's next recorded session instead of the echo model.
    """
    from rich.console import Console
    from rich.markup import escape

    from tfy_live.localgw import LocalGateway
    from tfy_live.localgw.replay import load

    console = Console(highlight=False, soft_wrap=True)
    script = load(replay, replay_then) if replay is not None else None  # a bad file: exit 2 before listening
    local_gw = LocalGateway(host=host, port=port, reply_speed=reply_speed, replay=script, replay_speed=replay_speed)
    try:
        await local_gw.start()
    except OSError as exc:  # socket.gaierror included
        raise listen_error(host, port, exc) from exc
    try:
        model = "echo model" if script is None else f"replaying {script.name}"
        console.print(f"[bold]tfy-live local gateway[/bold] ({escape(model)}) listening on {local_gw.base_url}")
        console.print(f"CA certificate: {local_gw.ca_file}")
        if script is not None:
            count, later = len(script.sessions), "the last one again" if script.then == "repeat" else "the echo model"
            speed = f", pauses {replay_speed:g}x faster" if replay_speed != 1 else ""
            console.print(f"{count} recorded session{'s' if count != 1 else ''} ({script.kind}, {script.shape}{speed}), "
                          f"one per connection, then {later}")
            for note in script.notes:
                console.print(f"[dim]{escape(note)}[/dim]")
        console.print("Any non-empty API key and any provider account name are accepted. Try:")
        from tfy_live.audio.portaudio import has_devices

        devices = await asyncio.to_thread(has_devices)  # PortAudio's start blocks; the gateway serves meanwhile
        console.print(escape(try_command(local_gw.base_url, local_gw.ca_file,
                                         kind=script.kind if script is not None else "gemini", devices=devices)))
        console.print("[dim]Ctrl-C to stop[/dim]")
        await asyncio.Event().wait()
    finally:
        # On Ctrl-C, SIGTERM or SIGHUP alike (eventloop.run): the CA file's folder goes with the server.
        await local_gw.stop()
    return 0


def try_command(base_url: str, ca_file: str, *, kind: str = "gemini", devices: bool = True) -> str:
    """The command ``local-gateway`` suggests: talk where this machine has a microphone and a speaker, else a
    text chat, which needs neither (talk would stop at once with exit 4)."""
    flags = f" --provider {LOCAL_PROVIDER}" + (f" --provider-kind {kind}" if kind != "gemini" else "")
    command = f"tfy-live talk{flags}" if devices else f'tfy-live chat{flags} "hello"'
    return (f"  TFY_BASE_URL={shlex.quote(base_url)} TFY_API_KEY=anything SSL_CERT_FILE={shlex.quote(ca_file)} "
            f"\\\n    {command}")


def listen_error(host: str, port: int, exc: OSError) -> ConfigError:
    """Why ``local-gateway`` cannot listen on ``host``:``port``, as the option to change."""
    import errno
    import socket

    if isinstance(exc, socket.gaierror):
        return ConfigError(f"cannot listen on --host {host!r}: the name does not resolve; pass an address of this "
                           "machine, e.g. --host 127.0.0.1")
    if exc.errno == errno.EADDRINUSE:
        return ConfigError(f"port {port} on {host} is already in use; pass another --port, or --port 0 for any "
                           "free port")
    if exc.errno in (errno.EACCES, errno.EPERM):
        return ConfigError(f"no permission to listen on port {port}; pass a port above 1023, or --port 0")
    if exc.errno == errno.EADDRNOTAVAIL:
        return ConfigError(f"cannot listen on --host {host!r}: it is not an address of this machine; pass one that "
                           "is, e.g. --host 127.0.0.1")
    return ConfigError(f"cannot listen on {host}:{port} ({exc.strerror or exc}); pass another --host or --port")
