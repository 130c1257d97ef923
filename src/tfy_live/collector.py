"""Python's cyclic garbage collector: off while tfy-live loads, back on once the start is over.

Loading google-genai makes some 120,000 objects that live as long as the process (its pydantic
models, mostly). With the collector on, CPython scans that growing heap again and again while it
loads: a sixth of the launch (BENCHMARKS.md). ``tfy_live.entry`` pauses it first thing; the start
is over once a session kind has loaded its SDK (``gateway`` and ``gateway_openai``: ``resume``), and
at the latest ``GRACE_S`` into the event loop, whatever the command (``eventloop.run``: ``grace_over``).
"""

import gc

# After this, a command collects again though no session kind has loaded its SDK: tools and local-gateway load none,
# talk and doctor load it late when MCP servers or doctor's network checks are slow.
GRACE_S = 2.0


_paused = False  # pause() turned the collector off: only then does resume() turn it on
_early = False  # grace_over() turned it on before a session kind loaded its SDK: that session's resume freezes it


def pause() -> None:
    global _paused
    if gc.isenabled():
        gc.disable()
        _paused = True


def resume() -> None:
    """Collect again, leaving out what the start made (``gc.freeze``): the modules and classes it loaded stay
    until the process ends anyway, and scanning them in every full collection would stall the conversation
    for tens of milliseconds, with the audio waiting. The start's own few garbage cycles stay too (some 800
    objects in ``talk --local``).

    Only undoes ``pause``: with the collector on, or off by another program's choice (tfy_live's modules run
    from it, the tests), it does nothing.
    """
    global _paused, _early
    if not (_paused or _early):
        return
    _paused = _early = False
    gc.freeze()
    gc.enable()


def grace_over() -> None:
    """The start took longer than ``GRACE_S``: collect again, freezing what it made so far. The SDK, if the command
    loads one, is still to come: its session's ``resume`` freezes that too."""
    global _early
    if _paused:
        resume()
        _early = True
