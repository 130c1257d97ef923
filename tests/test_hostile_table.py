"""README's table of the bad inputs the suite tries stays the suite's own list.

Each row of the hostile-case tables (``test_hostile*.py``) is a line of the
README's table, with the exit code it gets; a case added, renamed or given
another code fails here, with the line to paste.
"""

from __future__ import annotations

from pathlib import Path

from tests import test_hostile, test_hostile_files, test_hostile_network, test_hostile_secrets, test_hostile_tools

README = Path(__file__).resolve().parent.parent / "README.md"
AREAS = {"settings and connection": test_hostile, "outputs": test_hostile_files,
         "servers, inputs and the local gateway": test_hostile_network, "secrets, .env and escapes": test_hostile_secrets,
         "tools and provider kinds": test_hostile_tools}


def cases() -> list[tuple[str, str, int]]:
    """(area, case, exit code) for every row of every hostile table."""
    rows = [(area, c[0], c[3]) for area, module in AREAS.items() if module in (test_hostile, test_hostile_files)
            for c in module.CASES]
    rows += [("servers, inputs and the local gateway", c.id, c.code) for c in test_hostile_network.CASES]
    rows += [("secrets, .env and escapes", r.id, r.code) for r in test_hostile_secrets.ROWS]
    rows += [("tools and provider kinds", r.id, r.code) for r in test_hostile_tools.ROWS]
    return rows


def table_line(area: str, case: str, code: int) -> str:
    escaped = case.replace("|", "\\|")
    return f"| {area} | {escaped} | {code} |"


def test_every_hostile_case_is_in_the_readme_with_its_exit_code():
    text = README.read_text()
    missing = [table_line(*row) for row in cases() if table_line(*row) not in text]
    assert not missing, "add these lines to README's table of bad inputs:\n" + "\n".join(missing)
    assert len(cases()) >= 60
