"""``tfy-live doctor`` on the screen: a table row per check as it finishes, or JSON lines.

The settings row is followed by where each setting came from (flag, environment,
``.env``, default), so a ``.env`` that redirected the base URL or the CA bundle shows.
Every detail is cleaned (``sanitize.clean``): a server's reason may carry the key or
escape sequences.
"""

from __future__ import annotations

import contextlib
import json
import sys
from typing import Any, Mapping

from tfy_live.config import describe_sources, env_name, pick, setting_sources
from tfy_live.doctor import Doctor, Result, exit_code, run_checks
from tfy_live.masking import protected
from tfy_live.sanitize import clean
from tfy_live.voices import OPENAI_KINDS
from tfy_live.tools.config import ServerConfig

MARKS = {"pass": ("✓ pass", "green"), "fail": ("✗ fail", "bold red"), "skip": ("– skipped", "dim")}


async def run_doctor(flags: Mapping[str, Any], environ: Mapping[str, str], *, local: bool = False,
                     input_device: str | None = None, output_device: str | None = None, audio: bool = True,
                     json_output: bool = False, mcp_servers: list[ServerConfig] | None = None) -> int:
    from rich.console import Console
    from rich.markup import escape

    console = Console(highlight=False, soft_wrap=True)
    secrets = {environ.get(env_name("api_key"), "").strip(), *protected()}
    sources = setting_sources(flags, environ)
    if str(pick("provider_kind", flags, environ)).lower() in OPENAI_KINDS and sources["api_version"] == "default":
        del sources["api_version"]  # a Gemini setting the realtime API does not use; given, it is still shown
    async with contextlib.AsyncExitStack() as stack:
        doctor = Doctor(flags, environ, input_device=input_device, output_device=output_device, audio=audio,
                        mcp_servers=list(mcp_servers or []))
        if local:
            from tfy_live.localgw import LocalGateway
            from tfy_live.talk import LOCAL_PROVIDER

            sources |= {name: "built-in gateway" for name in ("api_key", "base_url")}
            if not flags.get("provider"):
                sources["provider"] = "built-in gateway"

            gw = await stack.enter_async_context(LocalGateway())
            doctor.flags = {**flags, "base_url": gw.base_url, "provider": flags.get("provider") or LOCAL_PROVIDER}
            doctor.environ = {**environ, "TFY_API_KEY": "local"}
            doctor.context = gw.client_ssl_context()
            if not json_output:
                console.print(f"[dim]checking against the built-in local gateway on {gw.base_url}[/dim]")
        width = max(len(check.name) for check in doctor.checks())

        def show(result: Result) -> None:
            detail = clean(result.detail, secrets)
            if json_output:
                record: dict[str, object] = {"check": result.name, "result": result.outcome, "detail": detail,
                                             "seconds": round(result.seconds, 3)}
                if result.name == "settings":
                    record["sources"] = sources
                sys.stdout.write(json.dumps(record, ensure_ascii=False) + "\n")
                sys.stdout.flush()
                return
            mark, style = MARKS[result.outcome]
            took = f" [dim]({result.seconds * 1000:.0f} ms)[/dim]" if result.outcome != "skip" else ""
            label = "fix: " if result.outcome == "fail" else ""
            console.print(f"[{style}]{mark:<9}[/{style}] {result.name:<{width}}  {label}{escape(detail)}{took}")
            if result.name == "settings":
                console.print(f"[dim]{'':<9} {'settings from':<{width}}  {escape(describe_sources(sources))}[/dim]")

        results = await run_checks(doctor.checks(), show)
    code = exit_code(results)
    if not json_output:
        failed = sum(r.outcome == "fail" for r in results)
        skipped = sum(r.outcome == "skip" for r in results)
        console.print(f"[bold green]all checks passed[/bold green]{f', {skipped} skipped' if skipped else ''}" if code == 0 else
                      f"[bold red]{failed} check{'s' if failed != 1 else ''} failed[/bold red]")
    return code
