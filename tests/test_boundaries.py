"""The architecture's seams, held by tests: each SDK stays in its gateway package (google-genai in gateway/,
openai in gateway_openai/)."""

from __future__ import annotations

import subprocess
import sys

# Everything outside the gateway package that a conversation runs through.
PROVIDER_NEUTRAL = [
    "tfy_live.events", "tfy_live.session", "tfy_live.conversation", "tfy_live.link", "tfy_live.player",
    "tfy_live.ui", "tfy_live.timeline", "tfy_live.talk", "tfy_live.echoguard", "tfy_live.endrule",
    "tfy_live.recorder", "tfy_live.doctor", "tfy_live.cli", "tfy_live.tools.config", "tfy_live.tools.catalog",
    "tfy_live.tools.approval", "tfy_live.tools.runner", "tfy_live.tools.servers", "tfy_live.tools.view",
]


def test_no_module_outside_the_gateway_package_imports_google_genai():
    code = (
        "import sys, importlib\n"
        f"for name in {PROVIDER_NEUTRAL!r}:\n"
        "    importlib.import_module(name)\n"
        "    assert 'google.genai' not in sys.modules, f'{name} imported google.genai'\n"
        "    assert 'google' not in sys.modules, f'{name} imported google'\n"
    )
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=60)
    assert result.returncode == 0, result.stderr


def test_the_gateway_package_itself_imports_the_sdk_only_when_used():
    code = "import sys, tfy_live.gateway; assert 'google.genai' not in sys.modules, 'imported at import time'"
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=60)
    assert result.returncode == 0, result.stderr


def test_no_source_file_outside_the_gateway_package_names_the_sdk():
    """Not even lazily, inside a function: SDK types never leave the gateway package."""
    from pathlib import Path

    import tfy_live

    root = Path(tfy_live.__file__).parent
    offenders = [str(path.relative_to(root)) for path in root.rglob("*.py")
                 if "gateway" not in path.relative_to(root).parts[:1]
                 and ("google.genai" in path.read_text() or "from google import" in path.read_text())]
    assert offenders == []


def test_no_module_outside_the_openai_gateway_package_imports_openai():
    code = (
        "import sys, importlib\n"
        f"for name in {PROVIDER_NEUTRAL + ['tfy_live.gateway', 'tfy_live.gateway_openai', 'tfy_live.localgw']!r}:\n"
        "    importlib.import_module(name)\n"
        "    assert 'openai' not in sys.modules, f'{name} imported openai'\n"
    )
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=60)
    assert result.returncode == 0, result.stderr


def test_no_source_file_outside_the_openai_gateway_package_names_the_openai_sdk():
    import re
    from pathlib import Path

    import tfy_live

    root = Path(tfy_live.__file__).parent
    sdk = re.compile(r"^\s*(import openai|from openai\b)", re.MULTILINE)
    offenders = [str(path.relative_to(root)) for path in root.rglob("*.py")
                 if path.relative_to(root).parts[0] != "gateway_openai" and sdk.search(path.read_text())]
    assert offenders == []
    # ...and inside it, nothing hands an SDK type out: the modules import it inside functions only.
    for path in (root / "gateway_openai").glob("*.py"):
        top = [line for line in path.read_text().splitlines() if line.startswith(("import openai", "from openai"))]
        assert top == [], f"{path.name} imports openai at module level"


def test_a_conversation_without_tools_loads_none_of_the_tools_modules():
    """Every launch of talk and chat imports these; the tools' modules load only when tools are asked for
    (issue 18: launch → connected, where each import before the SDK's counts)."""
    code = (
        "import sys\n"
        "import tfy_live.cli, tfy_live.talk, tfy_live.conversation, tfy_live.ui, tfy_live.link\n"
        "loaded = sorted(name for name in sys.modules if name.startswith('tfy_live.tools'))\n"
        "assert loaded == [], loaded\n"
    )
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=60)
    assert result.returncode == 0, result.stderr
