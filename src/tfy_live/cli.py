"""The command line: the only module that imports Typer.

It parses options (each with its environment variable, shown in ``--help``),
resolves the settings once, runs the program, and turns our errors into one red
line and the documented exit code. Heavy imports (the SDK, PyAudio, numpy)
happen inside the commands so that ``--help`` stays fast.
"""

from __future__ import annotations

import contextlib
import functools
import inspect
import os
import shlex
import signal
import sys
from dataclasses import dataclass, fields
from pathlib import Path
from typing import Annotated, Any, Callable, Coroutine, Mapping, Optional, get_type_hints

import typer
from typer.models import CommandFunctionType

from tfy_live import __version__, entry
from tfy_live.audio import CHUNK_MS
from tfy_live.config import (
    DEFAULT_API_VERSION,
    DEFAULT_MODEL,
    MAX_SETUP_TIMEOUT_S,
    VARIABLES,
    Settings,
    apply_dotenv,
    read_dotenv,
    resolve,
)
from tfy_live.echoguard import HALF_DUPLEX_TAIL_S
from tfy_live.errors import EXIT_INTERRUPTED, ConfigError, TfyLiveError
from tfy_live.masking import protected
from tfy_live.outfiles import Policy, stdout_error
from tfy_live.sanitize import clean
from tfy_live.eventloop import STOP_SIGNALS, Interrupted, exit_on_signal, take  # the loop's module, without asyncio until a loop runs
from tfy_live.voices import DEFAULT_VOICE, OPENAI_DEFAULT_VOICE, default_voice, voices_for


class HelpCommand(typer.core.TyperCommand):
    """A command whose ``--help`` reads at 80 columns, with one look for every option.

    Typer shows a value's type as ``<int range> [x>=1]``, which leaves the help column too narrow for
    the variable names (``TFY_LIVE_COMPRESSION_TRIG…``): a short placeholder (N, MS, S, FILE, TEXT)
    stands in where an option names none, and a range goes into the help text. A default given as
    text (resolved later, in config.py) is shown as Typer shows a value, not in parentheses. All on
    copies: parsing is untouched.
    """

    def format_help(self, ctx: Any, formatter: Any) -> None:
        import copy

        shown = copy.copy(self)
        shown.params = [_shown(param, ctx) for param in self.params]
        super(HelpCommand, shown).format_help(ctx, formatter)

    def parse_args(self, ctx: Any, args: list[str]) -> list[str]:
        rest: list[str] = super().parse_args(ctx, args)
        for param in self.params:
            _refuse_non_finite(ctx, param)
        return rest


def _refuse_non_finite(ctx: Any, param: Any) -> None:
    """A usage error (exit 2) for a float option given nan or ±inf, by flag or by its environment variable.

    click's float type reads "nan" and "inf" as numbers, and its range checks let NaN through (every
    comparison with it is false): a NaN timeout then ended in a traceback from the event loop, a NaN reply
    speed in a gateway that answered nonsense. No option of ours means "no limit" by inf, so none takes it.
    Checked here, in the class of every command, so that an option added later is covered as well.
    """
    import math

    if not any(c.__name__ == "FloatParamType" for c in type(param.type).__mro__):
        return
    value = ctx.params.get(param.name)
    values = value if isinstance(value, (list, tuple)) else (value,)
    if any(isinstance(v, float) and not math.isfinite(v) for v in values):
        raise typer.BadParameter(f"{next(v for v in values if not math.isfinite(v))} is not a finite number; use "
                                 f"{_span(param) or 'a finite number'}", ctx=ctx, param=param)


def _span(param: Any) -> str | None:
    """An option's allowed values in words ("1 or more", "0 to 65535"), or None when it declares none."""
    low, high = getattr(param.type, "min", None), getattr(param.type, "max", None)
    if low is None and high is None:
        # Float options click does not range-check: the settings check them later (values from .env too),
        # and their ranges are theirs.
        from tfy_live import shaping

        spans = {"temperature": shaping.span(shaping.TEMPERATURE),
                 "vad_threshold": shaping.span(shaping.VAD_THRESHOLD),
                 "setup_timeout": f"more than 0, up to {MAX_SETUP_TIMEOUT_S}"}
        return spans.get(param.name)
    return f"{low:g} to {high:g}" if low is not None and high is not None else \
        f"{low:g} or more" if low is not None else f"at most {high:g}"


def _shown(param: Any, ctx: Any) -> Any:
    if getattr(param, "param_type_name", "") != "option" or getattr(param, "is_flag", False):
        return param
    import copy

    shown = copy.copy(param)
    if shown.metavar is None:
        kind = str(getattr(shown.type, "name", "") or "")  # click's: "integer", "float", "path", "text", "choice"
        seconds = shown.name.endswith("_timeout")
        shown.metavar = ("MS" if shown.name.endswith("_ms") else "S" if seconds else "N") if "int" in kind or \
            "float" in kind else "FILE" if "path" in kind else "TEXT"
    # The range is click's IntRange/FloatRange type (its min and max), shown by the renderer as "[x>=1]":
    # said in words instead, and the plain number type shown.
    low, high = getattr(shown.type, "min", None), getattr(shown.type, "max", None)
    if low is not None or high is not None:
        span = _span(shown)
        shown.help = f"{shown.help.rstrip('.')} ({span})." if shown.help else f"{span}."
        plain = next(c for c in type(shown.type).__mro__ if c.__name__ in ("IntParamType", "FloatParamType"))
        shown.type = plain()
    if isinstance(shown.show_default, str):
        shown.default, shown.show_default = shown.show_default, True
    elif isinstance(shown.default, float) and shown.default.is_integer():
        shown.default = int(shown.default)  # 30, not 30.0
    return shown


class App(typer.Typer):
    """Every command is a ``HelpCommand`` unless it says otherwise."""

    def command(self, name: str | None = None, *, cls: type[typer.core.TyperCommand] | None = None,
                **kwargs: Any) -> Callable[[CommandFunctionType], CommandFunctionType]:
        return super().command(name, cls=cls or HelpCommand, **kwargs)


app = App(
    name="tfy-live",
    help="Talk to realtime voice models (Gemini Live, Vertex AI, OpenAI and Azure realtime) through the "
         "TrueFoundry AI Gateway.\n\n"
         "Set TFY_API_KEY and TFY_BASE_URL (or put them in ./.env), then: "
         "tfy-live talk --provider ACCOUNT --model MODEL. No account: tfy-live talk --local (a built-in echo "
         "model). Each option's environment variable is under it in the command's --help; "
         "TFY_LIVE_EVENT_LOOP chooses the event loop: auto (uvloop when installed), uvloop or asyncio.",
    no_args_is_help=True,
    # --install-completion / --show-completion: Typer's shell completion (bash, zsh, fish, PowerShell).
    add_completion=True,
    pretty_exceptions_enable=False,
    context_settings={"help_option_names": ["-h", "--help"]},
)

TARGET = "Gateway"
AUDIO = "Audio"
MODEL = "Model"
OUTPUT = "Output"
TOOLS = "Tools"


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


EXIT_CLOSED_PIPE = 141  # what a shell reports for a command stopped by SIGPIPE (128 + 13): `| head` users know it
CLOSED_PIPE = ("standard output was closed by the program reading it, so tfy-live stopped there; "
               "let that program read to the end to see everything")


def _secrets() -> list[str]:
    """The key in the environment, and any registered since (the local gateway's): masked in error lines."""
    key = os.environ.get(_env("api_key"), "").strip()
    return [key, *protected()] if key else [*protected()]


def _error_line(message: str) -> str:
    """An error line's text, with markup: a server's reason is shown, never obeyed, and holds no key."""
    from rich.markup import escape

    return f"[bold red]error:[/bold red] {escape(clean(message, _secrets()))}"


_ran = False  # a command's event loop ran: main() leaves without the interpreter's teardown (_leave)


def run(make: Callable[[], Coroutine[Any, Any, int | None]]) -> None:
    """Run a command's coroutine; errors become one red line and their exit code."""
    global _ran
    from rich.console import Console

    from tfy_live import debuglog, eventloop

    _ran = True
    debuglog.quiet()
    err = Console(stderr=True, highlight=False, soft_wrap=True)
    try:
        code = eventloop.run(make(), os.environ)
    except TfyLiveError as exc:
        _release_stdout()
        err.print(_error_line(str(exc)))
        raise typer.Exit(exc.exit_code) from None
    except OSError as exc:
        if (failed := _stdout_failed(exc)) is None:
            raise
        raise typer.Exit(failed) from None
    except Interrupted as exc:
        _stopped(exc)
        raise typer.Exit(exc.exit_code) from None
    except KeyboardInterrupt:
        _stopped(Interrupted(signal.SIGINT))
        raise typer.Exit(EXIT_INTERRUPTED) from None
    raise typer.Exit(code or 0)


def _stdout_failed(exc: OSError) -> int | None:
    """When ``exc`` is standard output failing, say so in one line and return the exit code; None when it
    is something else. Every closed pipe is standard output's (the sockets' errors are the gateway's)."""
    from rich.console import Console

    if not isinstance(exc, BrokenPipeError) and not _from_stdout(exc):
        return None
    _release_stdout()
    closed = isinstance(exc, BrokenPipeError)
    message = CLOSED_PIPE if closed else str(stdout_error(exc))
    Console(stderr=True, highlight=False, soft_wrap=True).print(f"[bold red]error:[/bold red] {message}")
    return EXIT_CLOSED_PIPE if closed else stdout_error(exc).exit_code


def _from_stdout(exc: BaseException) -> bool:
    """Whether ``exc`` was raised writing standard output. Typer's help and rich's consoles print outside
    our writers, so look for a frame on its way that wrote to it (``file.write``, a console on it), or
    for text still waiting in its buffer that cannot be flushed either."""
    stdout = sys.stdout
    if stdout is None:
        return False
    ours = (stdout, getattr(stdout, "buffer", None))
    tb = exc.__traceback__
    while tb is not None:
        local = tb.tb_frame.f_locals
        for value in (local.get("self"), local.get("file")):
            if value is not None and (any(value is o for o in ours) or any(
                    getattr(value, "file", None) is o for o in ours)):
                return True
        tb = tb.tb_next
    try:
        stdout.flush()
        return False
    except (OSError, ValueError):
        return True


def _release_stdout() -> None:
    """After standard output failed, point it at /dev/null: the interpreter flushes what is still buffered
    at exit, and a failure there prints "Exception ignored" and turns the exit code into 120."""
    try:
        if sys.stdout is not None:
            sys.stdout.flush()
    except (OSError, ValueError):
        devnull = os.open(os.devnull, os.O_WRONLY)
        os.dup2(devnull, sys.stdout.fileno())
        os.close(devnull)


def _rerun_with(flag: str, command: str) -> str | None:
    """The command line as typed with ``flag`` after the command's name, for an error to suggest as is;
    None when it cannot be shown on one line or was not typed (a test calling the command)."""
    args = sys.argv[1:]
    if command not in args or not all(arg.isprintable() for arg in args):
        return None
    at = args.index(command) + 1  # right after the command: before any `--` that ends the options
    return shlex.join(["tfy-live", *args[:at], flag, *args[at:]])


def _files(overwrite: bool, command: str) -> Policy:
    return Policy(overwrite=overwrite, rerun=None if overwrite else _rerun_with("--overwrite", command))

def _stopped(stop: Interrupted) -> None:
    """After a stop signal: from now on another one ends the process at once, with the same code (the clean-up
    is done); then the last line. After SIGHUP the terminal may be gone, which is no error of ours."""
    from rich.console import Console

    exit_on_signal(stop.exit_code)
    said = "" if stop.signum == signal.SIGINT else f" ({stop})"
    with contextlib.suppress(OSError, ValueError):
        Console(stderr=True, highlight=False, soft_wrap=True).print(f"[dim]stopped{said}[/dim]")


@dataclass(frozen=True)
class TargetFlags:
    """The Gateway options of talk, chat and doctor as given (None: not given; ``config.resolve`` does the rest).

    The fields are the options' one declaration: ``target_options`` makes them the
    commands' parameters, so the three commands cannot drift apart.
    """

    provider: Annotated[Optional[str], typer.Option(
        "--provider", "-p", envvar=_env("provider"), rich_help_panel=TARGET,
        help="Provider account name in TrueFoundry (the {providerAccountName} in …/live/{providerAccountName}).",
    )] = None
    model: Annotated[Optional[str], typer.Option(
        "--model", "-m", envvar=_env("model"), show_default=f"{DEFAULT_MODEL}; gpt-realtime for openai/azure",
        rich_help_panel=TARGET, help="Model name as shown on the provider account.")] = None
    voice: Annotated[Optional[str], typer.Option(
        "--voice", "-v", envvar=_env("voice"), show_default=f"{DEFAULT_VOICE}; {OPENAI_DEFAULT_VOICE} for openai/azure",
        rich_help_panel=TARGET, help="Prebuilt voice (see `tfy-live voices --provider-kind KIND`).")] = None
    provider_kind: Annotated[Optional[str], typer.Option(
        "--provider-kind", envvar=_env("provider_kind"), show_default="gemini", rich_help_panel=TARGET,
        help="gemini (Google AI Studio account), vertex (Vertex AI account), openai (OpenAI account) or azure "
             "(Azure OpenAI / AI Foundry account). openai and azure need the 'openai' extra.")] = None
    base_url: Annotated[Optional[str], typer.Option(
        "--base-url", envvar=_env("base_url"), rich_help_panel=TARGET,
        help="AI Gateway base URL, e.g. https://<control-plane>/api/llm. The API key is read from TFY_API_KEY only.",
    )] = None
    api_version: Annotated[Optional[str], typer.Option(
        "--api-version", envvar=_env("api_version"), show_default=DEFAULT_API_VERSION, rich_help_panel=TARGET,
        help="Live API version in the Gemini socket path (v1beta, v1, v1alpha).")] = None
    ca_bundle: Annotated[Optional[Path], typer.Option(
        "--ca-bundle", envvar=_env("ca_bundle"), rich_help_panel=TARGET,
        help="PEM file of the CA that signed a private gateway's certificate (SSL_CERT_FILE is honoured too).")] = None
    setup_timeout: Annotated[Optional[float], typer.Option(
        "--setup-timeout", envvar=_env("setup_timeout"), show_default="20", rich_help_panel=TARGET,
        help="Seconds to wait for the session setup to be answered.")] = None
    local: Annotated[bool, typer.Option(
        "--local", rich_help_panel=TARGET,
        help="Use the built-in local gateway (an echo model): a test that needs no account.")] = False

    def flags(self) -> dict[str, object]:
        """The flags ``config.resolve`` reads; ``local`` chooses a gateway rather than setting one."""
        return {f.name: getattr(self, f.name) for f in fields(self) if f.name in VARIABLES}

    def settings(self, environ: Mapping[str, str]) -> Settings:
        """The resolved settings; with --local the built-in gateway supplies the key, URL and account."""
        return resolve(self.flags(), environ, need_target=not self.local)


def target_options(command: Callable[..., None]) -> Callable[..., None]:
    """Give ``command`` the Gateway options in place of its ``target: TargetFlags`` parameter.

    Typer reads a command's options from its signature, so the wrapper's signature
    lists TargetFlags' fields where ``target`` stood (which keeps the order of
    ``--help``), and the wrapper hands the command their values as one TargetFlags.
    """
    signature = inspect.signature(command, eval_str=True)
    slot = next((p.name for p in signature.parameters.values() if p.annotation is TargetFlags), None)
    if slot is None:
        raise TypeError(f"{command.__name__} has no parameter annotated TargetFlags")
    hints = get_type_hints(TargetFlags, include_extras=True)
    shared = [inspect.Parameter(f.name, inspect.Parameter.KEYWORD_ONLY, annotation=hints[f.name], default=f.default)
              for f in fields(TargetFlags)]
    parameters: list[inspect.Parameter] = []
    for parameter in signature.parameters.values():
        # Keyword-only, as Typer passes every value by name: then any parameter may follow the options.
        parameters += shared if parameter.name == slot else [parameter.replace(kind=inspect.Parameter.KEYWORD_ONLY)]

    # Typer hands over the command's click context here (by the annotation), for each value's source.
    context = inspect.Parameter("target_context", inspect.Parameter.KEYWORD_ONLY, annotation=typer.Context)

    @functools.wraps(command)
    def wrapper(target_context: typer.Context, **values: Any) -> None:
        # A value Typer read from a variable is left to config.resolve, which reads the same variable
        # and so can say whether the setting came from the command line, the environment or .env.
        given: dict[str, Any] = {p.name: values.pop(p.name) for p in shared}
        given |= {name: None for name in given if _source(target_context, name) == "ENVIRONMENT"}
        target = TargetFlags(**given)
        command(**values, **{slot: target})

    # Signature() refuses a parameter name that is there twice: a command cannot declare a shared option again.
    parameters.insert(0, context)
    wrapper.__signature__ = signature.replace(parameters=parameters)  # type: ignore[attr-defined]
    wrapper.__annotations__ = {p.name: p.annotation for p in parameters} | {"return": signature.return_annotation}
    return wrapper


def _source(context: typer.Context, name: str) -> str:
    """Where click took a parameter's value from: COMMANDLINE, ENVIRONMENT, DEFAULT… ("" if it does not know)."""
    source = context.get_parameter_source(name)
    return source.name if source is not None else ""


# The other options the commands share, one alias each. They are no group like TargetFlags because talk lists
# options of its own among them in --help; tests/test_cli.py checks that the commands agree on every one.
System = Annotated[Optional[str], typer.Option(
    "--system", envvar="TFY_LIVE_SYSTEM", rich_help_panel=MODEL, help="System instruction for the model.")]
SystemFile = Annotated[Optional[Path], typer.Option(
    "--system-file", envvar="TFY_LIVE_SYSTEM_FILE", rich_help_panel=MODEL, help="Read the system instruction from FILE.")]
Language = Annotated[Optional[str], typer.Option(
    "--language", envvar="TFY_LIVE_LANGUAGE", rich_help_panel=MODEL,
    help="Language of the model's speech, BCP-47 (en-US, de-DE, hi-IN…).")]
Temperature = Annotated[Optional[float], typer.Option(
    "--temperature", envvar="TFY_LIVE_TEMPERATURE", rich_help_panel=MODEL, help="Sampling temperature, 0.0–2.0.")]
ThinkingBudget = Annotated[Optional[int], typer.Option(
    "--thinking-budget", envvar="TFY_LIVE_THINKING_BUDGET", min=-1, rich_help_panel=MODEL,
    help="Thinking tokens the model may spend (native-audio models; 0 off, -1 automatic).")]
GoogleSearch = Annotated[bool, typer.Option(
    "--google-search", envvar="TFY_LIVE_GOOGLE_SEARCH", rich_help_panel=MODEL,
    help="Let the model ground answers with Google Search.")]
NoCompression = Annotated[bool, typer.Option(
    "--no-compression", envvar="TFY_LIVE_NO_COMPRESSION", rich_help_panel=MODEL,
    help="Turn off context window compression (the sliding window that lets a session run past 15 minutes).")]
CompressionTrigger = Annotated[Optional[int], typer.Option(
    "--compression-trigger", envvar="TFY_LIVE_COMPRESSION_TRIGGER", min=1, rich_help_panel=MODEL,
    show_default="the server's, 80% of the window", help="Compress the context when it reaches this many tokens.")]
CompressionTarget = Annotated[Optional[int], typer.Option(
    "--compression-target", envvar="TFY_LIVE_COMPRESSION_TARGET", min=1, rich_help_panel=MODEL,
    show_default="the server's, half the trigger", help="Tokens kept after compressing.")]
CodeExecution = Annotated[bool, typer.Option(
    "--code-execution", envvar="TFY_LIVE_CODE_EXECUTION", rich_help_panel=MODEL,
    help="gemini/vertex: let the model write and run code on the server (models that support it); the code and its "
         "result are shown.")]
McpConfig = Annotated[Optional[Path], typer.Option(
    "--mcp-config", envvar="TFY_LIVE_MCP_CONFIG", rich_help_panel=TOOLS,
    help='MCP servers whose tools the model may call: {"mcpServers": {NAME: {"command": …, "args": […]} | '
         '{"url": …}}} (needs the \\[mcp] extra).')]
McpUrl = Annotated[Optional[list[str]], typer.Option(
    "--mcp", envvar="TFY_LIVE_MCP", rich_help_panel=TOOLS,
    help="A streamable-HTTP MCP server's URL (repeatable). On the gateway's origin it gets the API key; never elsewhere.")]
ToolTimeout = Annotated[float, typer.Option(
    "--tool-timeout", envvar="TFY_LIVE_TOOL_TIMEOUT", min=0.1, rich_help_panel=TOOLS,
    help="Seconds a tool call may run before the model is told it timed out.")]
ToolMode = Annotated[str, typer.Option(
    "--tool-mode", envvar="TFY_LIVE_TOOL_MODE", rich_help_panel=TOOLS,
    help="blocking (the model waits for each result) or non-blocking (gemini/vertex: it talks on; results come "
         "when it is idle).")]
ToolScheduling = Annotated[str, typer.Option(
    "--tool-scheduling", envvar="TFY_LIVE_TOOL_SCHEDULING", rich_help_panel=TOOLS,
    help="With --tool-mode non-blocking, what a result asks of the model: when-idle (take it up when it is "
         "idle), interrupt (at once) or silent (use it, say nothing).")]
ApproveTools = Annotated[Optional[str], typer.Option(
    "--approve-tools", envvar="TFY_LIVE_APPROVE_TOOLS", rich_help_panel=TOOLS, show_default="ask on a terminal, else none",
    help="Which calls run: ask (y/n/a for each), all, none, read-only (readOnlyHint tools), or NAME[,NAME…].")]
Debug = Annotated[bool, typer.Option(
    "--debug", envvar="TFY_LIVE_DEBUG", rich_help_panel=OUTPUT,
    help="Log the protocol (upgrade, frames) to standard error; the key is masked, audio elided.")]
JsonFlag = Annotated[bool, typer.Option(
    "--json", envvar="TFY_LIVE_JSON", rich_help_panel=OUTPUT,
    help="Print one JSON object per event (for scripts) instead of the live view.")]
NoTranscript = Annotated[bool, typer.Option(
    "--no-transcript", envvar="TFY_LIVE_NO_TRANSCRIPT", rich_help_panel=OUTPUT,
    help="Do not ask for or show transcriptions of either side.")]
TranscriptPath = Annotated[Optional[Path], typer.Option(
    "--transcript", envvar="TFY_LIVE_TRANSCRIPT", rich_help_panel=OUTPUT,
    help="Write the conversation to FILE as it happens: Markdown (.md) or JSON lines (.jsonl); owner-only. "
         "A transcript of ours in the same format is appended to.")]
Overwrite = Annotated[bool, typer.Option(
    "--overwrite", envvar="TFY_LIVE_OVERWRITE", rich_help_panel=OUTPUT,
    help="Replace output files that exist (regular files of yours; never through a symlink). "
         "The old file is kept if the run fails before writing anything.")]


def _debug(on: bool, settings: Settings) -> None:
    """Mask the key in everything printed from now on; with --debug, log the protocol and the settings' sources."""
    import logging

    from tfy_live import debuglog
    from tfy_live.config import from_dotenv, settings_line

    debuglog.protect(settings.api_key)
    if on:
        debuglog.enable()
        # Where each setting came from, so a .env that redirected the URL or the CA bundle shows.
        logging.getLogger("tfy_live.config").debug("settings: %s", settings_line(settings))
        others = sorted(from_dotenv(os.environ) - {variable for variable, _ in VARIABLES.values()})
        if others:
            logging.getLogger("tfy_live.config").debug("also from .env: %s", ", ".join(others))


@app.command()
@target_options
def talk(
    *,
    target: TargetFlags,
    input_device: Annotated[Optional[str], typer.Option(
        "--input-device", "-i", envvar="TFY_LIVE_INPUT_DEVICE", rich_help_panel=AUDIO,
        show_default="the system's", help="Microphone, by index or name (see `tfy-live devices`).")] = None,
    output_device: Annotated[Optional[str], typer.Option(
        "--output-device", "-o", envvar="TFY_LIVE_OUTPUT_DEVICE", rich_help_panel=AUDIO,
        show_default="the system's", help="Speaker, by index or name (see `tfy-live devices`).")] = None,
    input_file: Annotated[Optional[Path], typer.Option(
        # readable=False: the file's own check (exit 5, with the fix) rather than Click's usage error (exit 2).
        "--input-file", envvar="TFY_LIVE_INPUT_FILE", rich_help_panel=AUDIO, readable=False,
        help="Speak from an audio file (WAV at any rate and channel count, FLAC or OGG) instead of the microphone; "
             "ends after the reply.",
    )] = None,
    output_file: Annotated[Optional[Path], typer.Option(
        "--output-file", envvar="TFY_LIVE_OUTPUT_FILE", rich_help_panel=AUDIO,
        help="Write the model's audio to a 24 kHz mono WAV instead of the speaker.")] = None,
    chunk_ms: Annotated[int, typer.Option(
        "--chunk-ms", envvar="TFY_LIVE_CHUNK_MS", min=10, max=200, rich_help_panel=AUDIO,
        help="Microphone audio per message, in milliseconds: shorter reaches the model sooner, longer costs less CPU.")] = CHUNK_MS,
    aec: Annotated[str, typer.Option(
        "--aec", envvar="TFY_LIVE_AEC", rich_help_panel=AUDIO,
        help="Echo cancellation, so the model does not hear itself on laptop speakers: auto (on when the "
             "'aec' extra is installed and a microphone is used), on or off.")] = "auto",
    noise_suppression: Annotated[bool, typer.Option(
        "--noise-suppression", envvar="TFY_LIVE_NOISE_SUPPRESSION", rich_help_panel=AUDIO,
        help="With echo cancellation: also suppress steady background noise.")] = False,
    high_pass: Annotated[bool, typer.Option(
        "--high-pass", envvar="TFY_LIVE_HIGH_PASS", rich_help_panel=AUDIO,
        help="With echo cancellation: also filter out rumble below about 80 Hz.")] = False,
    half_duplex: Annotated[bool, typer.Option(
        "--half-duplex", envvar="TFY_LIVE_HALF_DUPLEX", rich_help_panel=AUDIO,
        help="Instead of echo cancellation: mute the microphone while the model speaks (and a short tail after); "
             "you cannot talk over it, but type to interrupt.")] = False,
    half_duplex_tail_ms: Annotated[Optional[int], typer.Option(
        "--half-duplex-tail-ms", envvar="TFY_LIVE_HALF_DUPLEX_TAIL_MS", min=0, rich_help_panel=AUDIO,
        show_default=f"{HALF_DUPLEX_TAIL_S * 1000:.0f}",
        help="With --half-duplex: how long the microphone stays muted after the model stops, in ms.")] = None,
    barge_in: Annotated[str, typer.Option(
        "--barge-in", envvar="TFY_LIVE_BARGE_IN", rich_help_panel=AUDIO,
        help="Who stops the model when you talk over it: local (a voice detector on the echo-cancelled "
             "microphone, at once), server (its 'interrupted', a round trip later) or auto (local with "
             "echo cancellation).")] = "auto",
    system: System = None,
    system_file: SystemFile = None,
    language: Language = None,
    temperature: Temperature = None,
    vad_start: Annotated[Optional[str], typer.Option(
        "--vad-start", envvar="TFY_LIVE_VAD_START", rich_help_panel=MODEL,
        help="Server voice detection: how readily speech starts (high or low).")] = None,
    vad_end: Annotated[Optional[str], typer.Option(
        "--vad-end", envvar="TFY_LIVE_VAD_END", rich_help_panel=MODEL,
        help="Server voice detection: how readily speech ends (high or low).")] = None,
    vad_silence_ms: Annotated[Optional[int], typer.Option(
        "--vad-silence-ms", envvar="TFY_LIVE_VAD_SILENCE_MS", min=0, rich_help_panel=MODEL,
        help="Server voice detection: silence that ends your turn, in ms.")] = None,
    vad_prefix_ms: Annotated[Optional[int], typer.Option(
        "--vad-prefix-ms", envvar="TFY_LIVE_VAD_PREFIX_MS", min=0, rich_help_panel=MODEL,
        help="Server voice detection: speech needed before a start is committed, in ms.")] = None,
    turn_detection: Annotated[Optional[str], typer.Option(
        "--turn-detection", envvar="TFY_LIVE_TURN_DETECTION", rich_help_panel=MODEL, show_default="server",
        help="openai/azure: the server's voice detection, server (server_vad: silence ends your turn) or "
             "semantic (semantic_vad: the model judges when you are done).")] = None,
    vad_threshold: Annotated[Optional[float], typer.Option(
        "--vad-threshold", envvar="TFY_LIVE_VAD_THRESHOLD", rich_help_panel=MODEL,
        help="openai/azure, server voice detection: how loud speech must be, 0.0-1.0 (the server's default 0.5).")] = None,
    eagerness: Annotated[Optional[str], typer.Option(
        "--eagerness", envvar="TFY_LIVE_EAGERNESS", rich_help_panel=MODEL,
        help="openai/azure, semantic voice detection: how soon the model answers (low, medium, high, auto).")] = None,
    push_to_talk: Annotated[bool, typer.Option(
        "--push-to-talk", envvar="TFY_LIVE_PUSH_TO_TALK", rich_help_panel=MODEL,
        help="Turn the server's voice detection off: press Enter to start speaking and Enter again to finish.",
    )] = False,
    affective_dialog: Annotated[bool, typer.Option(
        "--affective-dialog", envvar="TFY_LIVE_AFFECTIVE_DIALOG", rich_help_panel=MODEL,
        help="Let a native-audio model adapt its tone to yours.")] = False,
    proactive_audio: Annotated[bool, typer.Option(
        "--proactive-audio", envvar="TFY_LIVE_PROACTIVE_AUDIO", rich_help_panel=MODEL,
        help="Let a native-audio model decide not to answer speech that is not meant for it.")] = False,
    thinking_budget: ThinkingBudget = None,
    google_search: GoogleSearch = False,
    code_execution: CodeExecution = False,
    no_compression: NoCompression = False,
    compression_trigger: CompressionTrigger = None,
    compression_target: CompressionTarget = None,
    mcp_config: McpConfig = None,
    mcp: McpUrl = None,
    tool_timeout: ToolTimeout = 30.0,
    tool_mode: ToolMode = "blocking",
    tool_scheduling: ToolScheduling = "when-idle",
    approve_tools: ApproveTools = None,
    mute_during_tools: Annotated[bool, typer.Option(
        "--mute-during-tools", envvar="TFY_LIVE_MUTE_DURING_TOOLS", rich_help_panel=TOOLS,
        help="Send no microphone audio while a tool call runs (for servers that close with 1008 when it arrives).",
    )] = False,
    json_output: JsonFlag = False,
    debug: Debug = False,
    no_transcript: NoTranscript = False,
    transcript: TranscriptPath = None,
    overwrite: Overwrite = False,
    record: Annotated[Optional[Path], typer.Option(
        "--record", envvar="TFY_LIVE_RECORD", rich_help_panel=OUTPUT,
        help="Record the conversation to a stereo WAV (you left, the model right, as heard); owner-only.")] = None,
    turns: Annotated[Optional[int], typer.Option(
        "--turns", envvar="TFY_LIVE_TURNS", min=1, show_default="until Ctrl-C, or the reply to --input-file",
        help="End after the model's N-th reply.",
    )] = None,
    reply_timeout: Annotated[float, typer.Option(
        "--reply-timeout", envvar="TFY_LIVE_REPLY_TIMEOUT", min=1.0,
        help="With --input-file: seconds to wait for the model's reply before giving up (exit 3).")] = 30.0,
    reconnect_attempts: Annotated[Optional[int], typer.Option(
        "--reconnect-attempts", envvar="TFY_LIVE_RECONNECT_ATTEMPTS", min=1, show_default="5", rich_help_panel=TARGET,
        help="When the connection drops: reconnect attempts in a row (after 0, 0.5, 1, 2, 4 s; never more than 6 connections a minute) "
             "before giving up (exit 3).")] = None,
    replay_context: Annotated[bool, typer.Option(
        "--replay-context", envvar="TFY_LIVE_REPLAY_CONTEXT", rich_help_panel=TARGET,
        help="openai/azure: a realtime session cannot be resumed, so a reconnect starts a new one; give it the "
             "conversation's text so far (not its audio).")] = False,
) -> None:
    """Hold a spoken conversation with a realtime model through the gateway.

    Type a line and press Enter to send it as text (it interrupts the model, as speech does).
    """
    from tfy_live.echoguard import echo_options
    from tfy_live.shaping import model_options
    from tfy_live.talk import AudioChoice, OutputChoice, ToolChoice, talk as run_talk
    from tfy_live.voices import OPENAI_KINDS

    audio = AudioChoice(input_device, output_device, input_file, output_file, chunk_ms)
    tools = ToolChoice(mcp_config, tuple(mcp or ()), tool_timeout, tool_mode, approve_tools, mute_during_tools,
                       tool_scheduling)
    output = OutputChoice(json=json_output, transcripts=not no_transcript, transcript_file=transcript, record=record,
                          files=_files(overwrite, "talk"))

    async def main() -> int:
        settings = target.settings(os.environ)
        _debug(debug, settings)
        options = model_options(
            system=system, system_file=system_file, language=language, temperature=temperature,
            vad_start=vad_start, vad_end=vad_end, vad_silence_ms=vad_silence_ms, vad_prefix_ms=vad_prefix_ms,
            push_to_talk=push_to_talk, affective_dialog=affective_dialog, proactive_audio=proactive_audio,
            thinking_budget=thinking_budget, google_search=google_search, code_execution=code_execution,
            compression=not no_compression,
            compression_trigger_tokens=compression_trigger, compression_target_tokens=compression_target,
            turn_detection=turn_detection, vad_threshold=vad_threshold, eagerness=eagerness,
            kind=settings.provider_kind,
        )
        if replay_context and settings.provider_kind not in OPENAI_KINDS:
            raise ConfigError("--replay-context applies to the openai and azure provider kinds only (gemini and "
                              "vertex sessions are resumed with their own memory); drop it")
        echo = echo_options(aec=aec, noise_suppression=noise_suppression, high_pass=high_pass,
                            half_duplex=half_duplex, barge_in=barge_in, tail_ms=half_duplex_tail_ms)
        return await run_talk(settings, audio, options=options, local=target.local, turns=turns,
                              reply_timeout=reply_timeout, output=output, echo=echo,
                              reconnect_attempts=reconnect_attempts, tools=tools, replay_context=replay_context)

    run(main)


@app.command()
@target_options
def chat(
    message: Annotated[Optional[list[str]], typer.Argument(
        help="Message(s) to send, one reply each; without them, lines are read from standard input.",
        show_default=False)] = None,
    *,
    target: TargetFlags,
    modality: Annotated[str, typer.Option(
        "--modality", envvar="TFY_LIVE_CHAT_MODALITY", rich_help_panel=MODEL,
        help="How the model answers: text, or audio (shown as its transcript; native-audio models need audio).",
    )] = "text",
    speak: Annotated[bool, typer.Option(
        "--speak", envvar="TFY_LIVE_SPEAK", rich_help_panel=AUDIO,
        help="Also play the model's spoken answer (implies --modality audio).")] = False,
    output_device: Annotated[Optional[str], typer.Option(
        "--output-device", "-o", envvar="TFY_LIVE_OUTPUT_DEVICE", rich_help_panel=AUDIO,
        show_default="the system's", help="Speaker for --speak, by index or name (see `tfy-live devices`).")] = None,
    output_file: Annotated[Optional[Path], typer.Option(
        "--output-file", envvar="TFY_LIVE_OUTPUT_FILE", rich_help_panel=AUDIO,
        help="Write the spoken answers to a 24 kHz mono WAV instead of the speaker (implies --speak).")] = None,
    system: System = None,
    system_file: SystemFile = None,
    language: Language = None,
    temperature: Temperature = None,
    thinking_budget: ThinkingBudget = None,
    google_search: GoogleSearch = False,
    code_execution: CodeExecution = False,
    no_compression: NoCompression = False,
    compression_trigger: CompressionTrigger = None,
    compression_target: CompressionTarget = None,
    mcp_config: McpConfig = None,
    mcp: McpUrl = None,
    tool_timeout: ToolTimeout = 30.0,
    tool_mode: ToolMode = "blocking",
    tool_scheduling: ToolScheduling = "when-idle",
    approve_tools: ApproveTools = None,
    json_output: JsonFlag = False,
    debug: Debug = False,
    transcript: TranscriptPath = None,
    overwrite: Overwrite = False,
    reply_timeout: Annotated[float, typer.Option(
        "--reply-timeout", envvar="TFY_LIVE_REPLY_TIMEOUT", min=1.0,
        help="Seconds to wait for each reply before giving up (exit 3).")] = 30.0,
) -> None:
    """Chat in text over the same Live connection (no microphone needed).

    echo "What is the capital of France?" | tfy-live chat --provider gemini-acct
    """
    from tfy_live.shaping import model_options
    from tfy_live.talk import OutputChoice, ToolChoice, chat as run_chat

    tools = ToolChoice(mcp_config, tuple(mcp or ()), tool_timeout, tool_mode, approve_tools,
                       scheduling=tool_scheduling)

    async def main() -> int:
        settings = target.settings(os.environ)
        _debug(debug, settings)
        options = model_options(
            system=system, system_file=system_file, language=language, temperature=temperature,
            thinking_budget=thinking_budget, google_search=google_search, code_execution=code_execution,
            modality="audio" if speak or output_file else modality, compression=not no_compression,
            compression_trigger_tokens=compression_trigger, compression_target_tokens=compression_target,
            kind=settings.provider_kind,
        )
        output = OutputChoice(json=json_output, transcripts=options.modality == "audio", transcript_file=transcript,
                              files=_files(overwrite, "chat"))
        return await run_chat(settings, messages=message, speak=speak, output_device=output_device,
                              output_file=output_file, local=target.local,
                              reply_timeout=reply_timeout, options=options, output=output, tools=tools)

    run(main)


@app.command()
@target_options
def doctor(
    *,
    target: TargetFlags,
    input_device: Annotated[Optional[str], typer.Option(
        "--input-device", "-i", envvar="TFY_LIVE_INPUT_DEVICE", rich_help_panel=AUDIO,
        show_default="the system's", help="Microphone to check, by index or name.")] = None,
    output_device: Annotated[Optional[str], typer.Option(
        "--output-device", "-o", envvar="TFY_LIVE_OUTPUT_DEVICE", rich_help_panel=AUDIO,
        show_default="the system's", help="Speaker to check, by index or name.")] = None,
    no_audio: Annotated[bool, typer.Option(
        "--no-audio", rich_help_panel=AUDIO, help="Skip the audio device checks (a server with no sound card).")] = False,
    mcp_config: McpConfig = None,
    mcp: McpUrl = None,
    json_output: Annotated[bool, typer.Option(
        "--json", envvar="TFY_LIVE_JSON", rich_help_panel=OUTPUT,
        help="Print one JSON object per check (for scripts) instead of the table.")] = False,
) -> None:
    """Check the set-up in order — settings, DNS, TLS, key, model, audio — and say what to fix.

    Exits 0 when every check passes, else with the first failure's code (2 settings, 3 gateway or an MCP server,
    4 audio). With --mcp-config or --mcp, each MCP server is connected and its tools listed.
    """
    from tfy_live.doctor_view import run_doctor
    from tfy_live.talk import ToolChoice, check_tools

    servers = check_tools(ToolChoice(mcp_config, tuple(mcp or ())))
    run(lambda: run_doctor(target.flags(), os.environ, local=target.local, input_device=input_device,
                           output_device=output_device, audio=not no_audio, json_output=json_output,
                           mcp_servers=servers))


@app.command()
def tools(
    mcp_config: McpConfig = None,
    mcp: McpUrl = None,
    json_output: Annotated[bool, typer.Option(
        "--json", envvar="TFY_LIVE_JSON", help="One JSON object per server (its tools, their schemas) instead of a table.",
    )] = False,
) -> None:
    """List the tools of the MCP servers, as the model will be offered them (exit 3 if a server does not answer).

    tfy-live tools --mcp-config examples/mcp.json
    """
    from tfy_live.talk import ToolChoice, check_tools
    from tfy_live.tools.view import NO_SERVERS, run_tools, tools_command

    if mcp_config is None and not mcp:
        raise ConfigError(NO_SERVERS)
    configs = check_tools(ToolChoice(mcp_config, tuple(mcp or ())))
    run(lambda: run_tools(configs, os.environ, json_output=json_output, again=tools_command(mcp_config, mcp or ()),
                          config_file=mcp_config))


@app.command()
def devices() -> None:
    """List audio input and output devices (defaults marked)."""
    from rich.console import Console
    from rich.table import Table

    from tfy_live.audio.devices import list_devices
    from tfy_live.errors import AudioError

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
        if not found:
            # Exit 4, as for talk without a device (README): a script that checks `devices` learns it at once.
            raise AudioError("no audio devices found; use `tfy-live talk --input-file FILE --output-file FILE.wav` "
                             "(or `tfy-live chat`), or check the sound system (ALSA/PulseAudio) sees a card")
        Console(highlight=False).print(table)
        return 0

    run(main)


@app.command()
def voices(
    provider_kind: Annotated[str, typer.Option(
        "--provider-kind", envvar=_env("provider_kind"), help="Whose voices: gemini, vertex, openai or azure.",
    )] = "gemini",
) -> None:
    """List the prebuilt voices of a provider kind."""
    from rich.console import Console
    from rich.table import Table

    from tfy_live.config import PROVIDER_KINDS

    kind = provider_kind.strip().lower()
    if kind not in PROVIDER_KINDS:
        raise ConfigError(f"provider kind must be one of {', '.join(PROVIDER_KINDS)} (got {provider_kind!r}); "
                          f"fix --provider-kind or {_env('provider_kind')}")
    offered = voices_for(kind)
    table = Table(title=f"{len(offered)} prebuilt voices for {kind} (--voice NAME)", title_justify="left")
    table.add_column("voice", style="bold")
    table.add_column("sound")
    for name, description in offered.items():
        table.add_row(name + (" (default)" if name == default_voice(kind) else ""), description)
    Console(highlight=False).print(table)


@app.command("local-gateway")
def local_gateway(
    host: str = typer.Option("127.0.0.1", "--host", help="Address to listen on."),
    port: int = typer.Option(8443, "--port", min=0, max=65535, help="Port to listen on (0: any free port)."),
    reply_speed: float = typer.Option(
        4.0, "--reply-speed", min=0.1, help="How much faster than real time the echo model sends its reply."
    ),
    replay: Optional[Path] = typer.Option(
        None, "--replay", metavar="FILE", show_default=False,
        help="Instead of the echo model, replay this recorded session file (JSON Lines, the format of "
             "tests/realtraffic/README.md) to each client: the Nth session of the file to the Nth connection."),
    replay_speed: float = typer.Option(
        1.0, "--replay-speed", min=0.01, help="With --replay: how much faster than recorded the pauses (after_s) pass."),
    replay_then: Optional[str] = typer.Option(
        None, "--replay-then", metavar="repeat|echo", show_default=False,
        help="With --replay: what connections after the file's last session get: repeat (that session again) or "
             "echo (the echo model). Default: the file's 'then', else repeat."),
) -> None:
    """Run the built-in local gateway (TLS, echo model or a replay) for other clients to try against."""
    from tfy_live.talk import serve_local_gateway

    if replay is None and replay_then is not None:
        raise ConfigError("--replay-then needs --replay FILE")
    run(lambda: serve_local_gateway(host=host, port=port, reply_speed=reply_speed, replay=replay,
                                    replay_speed=replay_speed, replay_then=replay_then))


def main() -> None:
    from rich.console import Console

    try:
        # Until the event loop takes them over (eventloop.run), the stop signals end the program with one line
        # and 130, 143 or 129, rather than death mid-print by the default action. Ctrl-C too: as Python's
        # KeyboardInterrupt it would be caught by click while a command imports its modules, and become an
        # empty line. (Before this, tfy_live.entry catches it.)
        for signum in STOP_SIGNALS:
            take(signum, _interrupt)
        if entry.pending:  # one came while the modules loaded, and Python swallowed its exception
            raise Interrupted(entry.pending.pop(0))
        try:
            cwd = Path.cwd()
        except FileNotFoundError:
            raise ConfigError("the current directory no longer exists (it was deleted or moved); cd to a directory "
                              "that exists and run tfy-live again") from None
        apply_dotenv(read_dotenv(cwd / ".env"), os.environ)
        code = _flush_stdout(_invoke(sys.argv[1:]))
    except TfyLiveError as exc:
        Console(stderr=True, highlight=False, soft_wrap=True).print(_error_line(str(exc)))
        code = exc.exit_code
    except Interrupted as exc:
        _stopped(exc)
        code = exc.exit_code
    except SystemExit as exc:
        # rich (Console.on_broken_pipe) and click answer a closed standard output with exit 1, silently, which
        # the README keeps for internal errors: say so in our line, with our code.
        if exc.code != 1 or not isinstance(exc.__context__, BrokenPipeError):
            raise
        code = _stdout_failed(exc.__context__) or EXIT_CLOSED_PIPE
    if code > 128 or "livekit.rtc" in sys.modules or _ran:
        # livekit's native runtime can abort the process (a Rust panic, exit 134) when the interpreter
        # tears down around its threads; its own atexit disposal runs in _leave, the teardown does not.
        # After a command the teardown only frees memory, and took 0.23-0.8 s with the SDK, numpy and
        # PortAudio loaded (summary line to exit, talk --local --input-file): --help and usage errors
        # load none of them and leave as usual.
        _leave(code)
    sys.exit(code)


def _flush_stdout(code: int) -> int:
    """Flush standard output before the interpreter does, so that a failure there (a reader gone, a full
    device) is one line and its exit code rather than "Exception ignored" and exit 120."""
    try:
        if sys.stdout is not None:
            sys.stdout.flush()
        return code
    except OSError as exc:
        failed = _stdout_failed(exc)
        return code or failed or 0  # a command that failed already said why


def _leave(code: int) -> None:
    """Exit, the clean-up done (files, the built-in gateway), without the interpreter's teardown.

    Used after a command ran, after a stop signal, and whenever livekit's native library is loaded.
    Everything a command opened (files, devices, sockets, the gateway's folder) is closed when its
    event loop returns, before this. Python gives the signals back their default action before it tears its
    modules down (half a second with PortAudio loaded): a second Ctrl-C there
    would kill by signal. The atexit functions still run first, under the
    handlers of ``exit_on_signal`` (PortAudio's release, a probe's log); the
    teardown frees only memory. ``atexit._run_exitfuncs`` is CPython's own, hence
    the fallback: the usual exit.
    """
    import atexit

    run_exitfuncs = getattr(atexit, "_run_exitfuncs", None)
    if run_exitfuncs is None:
        sys.exit(code)
    if any(signal.getsignal(signum) is _interrupt for signum in STOP_SIGNALS):
        # The command is over: a stop now (PortAudio's release can take a while) ends the process at once,
        # rather than as an exception the atexit machinery would print and ignore. (After a stop, _stopped
        # has done this already, with that stop's code.)
        exit_on_signal()
    run_exitfuncs()
    with contextlib.suppress(OSError, ValueError):
        sys.stdout.flush()
        sys.stderr.flush()
    os._exit(code)


def _interrupt(signum: int, frame: object) -> None:
    entry.pending.append(signum)  # acted on even if Python swallows the exception (entry.pending)
    raise Interrupted(signum)


def _invoke(args: list[str]) -> int:
    """Run the app; a usage error (bad option or value) is one line naming the fix, exit 2."""
    from rich.console import Console
    from rich.markup import escape

    # Typer's click (vendored in newer Typer) by way of a public name: BadParameter's bases.
    usage_error: Any = next(c for c in typer.BadParameter.__mro__ if c.__name__ == "UsageError")
    click_exception: Any = next(c for c in typer.BadParameter.__mro__ if c.__name__ == "ClickException")
    try:
        code = app(args=args, prog_name="tfy-live", standalone_mode=False)
    except usage_error as exc:
        if type(exc).__name__ == "NoArgsIsHelpError":
            # `tfy-live` alone: Typer's rich help printed itself already (the message is then empty), click's
            # plain one is the message. Exit 2, a usage error, with no error line: the help is the answer.
            if help_text := exc.format_message().strip():
                typer.echo(help_text)
            return int(exc.exit_code)
        where = exc.ctx.command_path if exc.ctx is not None else "tfy-live"
        message = " ".join(exc.format_message().split()).rstrip(".")
        Console(stderr=True, highlight=False, soft_wrap=True).print(
            f"{_error_line(message)}; see `{escape(where)} --help`")
        return int(exc.exit_code)
    except click_exception as exc:
        Console(stderr=True, highlight=False, soft_wrap=True).print(_error_line(" ".join(exc.format_message().split())))
        return int(exc.exit_code)
    except typer.Abort:
        return EXIT_INTERRUPTED
    except OSError as exc:  # --help, voices, devices: they print outside run()
        if (failed := _stdout_failed(exc)) is None:
            raise
        return failed
    return code if isinstance(code, int) else 0


if __name__ == "__main__":  # pragma: no cover
    main()
