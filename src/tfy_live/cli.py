"""The command line: the only module that imports Typer.

It parses options (each with its environment variable, shown in ``--help``),
resolves the settings once, runs the program, and turns our errors into one red
line and the documented exit code. Heavy imports (the SDK, PyAudio, numpy)
happen inside the commands so that ``--help`` stays fast.
"""

from __future__ import annotations

import asyncio
import os
import sys
from pathlib import Path
from typing import Any, Callable, Coroutine, Optional

import typer

from tfy_live import __version__
from tfy_live.config import DEFAULT_API_VERSION, DEFAULT_MODEL, VARIABLES, apply_dotenv, read_dotenv, resolve
from tfy_live.errors import EXIT_INTERRUPTED, TfyLiveError
from tfy_live.voices import DEFAULT_VOICE, VOICES

app = typer.Typer(
    name="tfy-live",
    help="Talk to realtime voice models (Gemini Live, Vertex AI) through the TrueFoundry AI Gateway.",
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
    context_settings={"help_option_names": ["-h", "--help"]},
)

TARGET = "Gateway"
AUDIO = "Audio"
OUTPUT = "Output"


def _env(setting: str) -> str:
    return VARIABLES[setting][0]


def _version(value: bool) -> None:
    if value:
        typer.echo(f"tfy-live {__version__}")
        raise typer.Exit()


@app.callback()
def _main(
    version: bool = typer.Option(False, "--version", callback=_version, is_eager=True, help="Show the version and exit."),
) -> None:
    """Talk to realtime voice models through the TrueFoundry AI Gateway.

    Set TFY_API_KEY and TFY_BASE_URL (or put them in ./.env), then:
    tfy-live talk --provider gemini-acct --model gemini-live-2.5-flash
    """


def _secrets() -> list[str]:
    key = os.environ.get(_env("api_key"), "").strip()
    return [key] if key else []


def redact(text: str, secrets_: list[str]) -> str:
    for secret in secrets_:
        text = text.replace(secret, "***")
    return text


def run(make: Callable[[], Coroutine[Any, Any, int | None]]) -> None:
    """Run a command's coroutine; errors become one red line and their exit code."""
    from rich.console import Console
    from rich.markup import escape

    err = Console(stderr=True, highlight=False, soft_wrap=True)
    try:
        code = asyncio.run(make())
    except TfyLiveError as exc:
        err.print(f"[bold red]error:[/bold red] {escape(redact(str(exc), _secrets()))}")
        raise typer.Exit(exc.exit_code) from None
    except KeyboardInterrupt:
        err.print("[dim]stopped[/dim]")
        raise typer.Exit(EXIT_INTERRUPTED) from None
    raise typer.Exit(code or 0)


@app.command()
def talk(
    provider: Optional[str] = typer.Option(
        None, "--provider", "-p", envvar=_env("provider"), rich_help_panel=TARGET,
        help="Provider account name in TrueFoundry (the {providerAccountName} in …/live/{providerAccountName}).",
    ),
    model: Optional[str] = typer.Option(
        None, "--model", "-m", envvar=_env("model"), show_default=DEFAULT_MODEL, rich_help_panel=TARGET,
        help="Model name as shown on the provider account.",
    ),
    voice: Optional[str] = typer.Option(
        None, "--voice", "-v", envvar=_env("voice"), show_default=DEFAULT_VOICE, rich_help_panel=TARGET,
        help="Prebuilt voice (see `tfy-live voices`).",
    ),
    provider_kind: Optional[str] = typer.Option(
        None, "--provider-kind", envvar=_env("provider_kind"), show_default="gemini", rich_help_panel=TARGET,
        help="gemini (Google AI Studio account) or vertex (Vertex AI account).",
    ),
    base_url: Optional[str] = typer.Option(
        None, "--base-url", envvar=_env("base_url"), rich_help_panel=TARGET,
        help="AI Gateway base URL, e.g. https://<control-plane>/api/llm. The API key is read from TFY_API_KEY only.",
    ),
    api_version: Optional[str] = typer.Option(
        None, "--api-version", envvar=_env("api_version"), show_default=DEFAULT_API_VERSION, rich_help_panel=TARGET,
        help="Live API version in the Gemini socket path (v1beta, v1, v1alpha).",
    ),
    ca_bundle: Optional[Path] = typer.Option(
        None, "--ca-bundle", envvar=_env("ca_bundle"), rich_help_panel=TARGET,
        help="PEM file of the CA that signed a private gateway's certificate (SSL_CERT_FILE is honoured too).",
    ),
    local: bool = typer.Option(
        False, "--local", rich_help_panel=TARGET,
        help="Talk to the built-in local gateway (an echo model): a microphone/speaker test with no account.",
    ),
    input_device: Optional[str] = typer.Option(
        None, "--input-device", "-i", envvar="TFY_LIVE_INPUT_DEVICE", rich_help_panel=AUDIO,
        help="Microphone, by index or name (see `tfy-live devices`); default: the system default.",
    ),
    output_device: Optional[str] = typer.Option(
        None, "--output-device", "-o", envvar="TFY_LIVE_OUTPUT_DEVICE", rich_help_panel=AUDIO,
        help="Speaker, by index or name (see `tfy-live devices`); default: the system default.",
    ),
    input_file: Optional[Path] = typer.Option(
        None, "--input-file", envvar="TFY_LIVE_INPUT_FILE", rich_help_panel=AUDIO,
        help="Speak from an audio file (WAV at any rate or channels) instead of the microphone; ends after the reply.",
    ),
    output_file: Optional[Path] = typer.Option(
        None, "--output-file", envvar="TFY_LIVE_OUTPUT_FILE", rich_help_panel=AUDIO,
        help="Write the model's audio to a 24 kHz mono WAV instead of the speaker.",
    ),
    chunk_ms: int = typer.Option(
        20, "--chunk-ms", envvar="TFY_LIVE_CHUNK_MS", min=10, max=200, rich_help_panel=AUDIO,
        help="Microphone chunk length sent per message, in milliseconds.",
    ),
    turns: Optional[int] = typer.Option(
        None, "--turns", envvar="TFY_LIVE_TURNS", min=1,
        help="End after the model's N-th reply (default: run until Ctrl-C, or after the reply to --input-file).",
    ),
    json_output: bool = typer.Option(
        False, "--json", envvar="TFY_LIVE_JSON", rich_help_panel=OUTPUT,
        help="Print one JSON object per event (for scripts) instead of the live view.",
    ),
    no_transcript: bool = typer.Option(
        False, "--no-transcript", envvar="TFY_LIVE_NO_TRANSCRIPT", rich_help_panel=OUTPUT,
        help="Do not ask for or show transcriptions of either side.",
    ),
    transcript: Optional[Path] = typer.Option(
        None, "--transcript", envvar="TFY_LIVE_TRANSCRIPT", rich_help_panel=OUTPUT,
        help="Write the conversation to FILE as it happens: Markdown (.md) or JSON lines (.jsonl); owner-only.",
    ),
    reply_timeout: float = typer.Option(
        30.0, "--reply-timeout", envvar="TFY_LIVE_REPLY_TIMEOUT", min=1.0,
        help="With --input-file: seconds to wait for the model's reply before giving up (exit 3).",
    ),
) -> None:
    """Hold a spoken conversation with a realtime model through the gateway."""
    from tfy_live.talk import AudioChoice, OutputChoice, talk as run_talk

    flags = {
        "provider": provider, "model": model, "voice": voice, "provider_kind": provider_kind,
        "base_url": base_url, "api_version": api_version, "ca_bundle": ca_bundle,
    }
    audio = AudioChoice(input_device, output_device, input_file, output_file, chunk_ms)
    output = OutputChoice(json=json_output, transcripts=not no_transcript, transcript_file=transcript)

    async def main() -> int:
        settings = resolve(flags, os.environ, need_target=not local)
        return await run_talk(settings, audio, local=local, turns=turns, reply_timeout=reply_timeout, output=output)

    run(main)


@app.command()
def devices() -> None:
    """List audio input and output devices (defaults marked)."""
    from rich.console import Console
    from rich.table import Table

    from tfy_live.audio.devices import list_devices

    async def main() -> int:
        found = list_devices()
        table = Table(title="Audio devices", title_justify="left")
        for column in ("index", "name", "host API", "in", "out", "rate (Hz)", "default"):
            table.add_column(column, justify="right" if column in ("index", "in", "out", "rate (Hz)") else "left")
        for device in found:
            marks = [m for m, on in (("input", device.is_default_input), ("output", device.is_default_output)) if on]
            table.add_row(
                str(device.index), device.name, device.host_api, str(device.max_input_channels),
                str(device.max_output_channels), f"{device.default_sample_rate:.0f}", ", ".join(marks),
            )
        console = Console(highlight=False)
        if found:
            console.print(table)
        else:
            console.print("No audio devices found. Use --input-file / --output-file with `tfy-live talk`.")
        return 0

    run(main)


@app.command()
def voices() -> None:
    """List the prebuilt voices."""
    from rich.console import Console
    from rich.table import Table

    table = Table(title=f"{len(VOICES)} prebuilt voices (--voice NAME)", title_justify="left")
    table.add_column("voice", style="bold")
    table.add_column("sound")
    for name, description in VOICES.items():
        table.add_row(name + (" (default)" if name == DEFAULT_VOICE else ""), description)
    Console(highlight=False).print(table)


@app.command("local-gateway")
def local_gateway(
    host: str = typer.Option("127.0.0.1", "--host", help="Address to listen on."),
    port: int = typer.Option(8443, "--port", min=0, max=65535, help="Port to listen on (0: any free port)."),
    reply_speed: float = typer.Option(
        4.0, "--reply-speed", min=0.1, help="How much faster than real time the echo model sends its reply."
    ),
) -> None:
    """Run the built-in local gateway (TLS, echo model) for other clients to try against."""
    from tfy_live.talk import serve_local_gateway

    run(lambda: serve_local_gateway(host=host, port=port, reply_speed=reply_speed))


def main() -> None:
    from rich.console import Console

    try:
        apply_dotenv(read_dotenv(Path.cwd() / ".env"), os.environ)
    except TfyLiveError as exc:
        Console(stderr=True, highlight=False).print(f"[bold red]error:[/bold red] {exc}")
        sys.exit(exc.exit_code)
    app(prog_name="tfy-live")


if __name__ == "__main__":  # pragma: no cover
    main()
