"""Python's cyclic garbage collector: off while tfy-live loads, back on once the start is over.

Loading google-genai makes some 120,000 objects that live as long as the process (its pydantic
models, mostly). With the collector on, CPython scans that growing heap again and again while it
loads: a sixth of the launch (BENCHMARKS.md). ``tfy_live.entry`` pauses it first thing; the start
is over once a session kind has loaded its SDK (``gateway`` and ``gateway_openai``), and at the
latest ``GRACE_S`` into the event loop, whatever the command (``eventloop.run``).
"""

import gc

GRACE_S = 2.0  # a command that never loads an SDK (doctor, tools, local-gateway) collects again after this


_paused = False  # pause() turned the collector off: only then does resume() turn it on


def pause() -> None:
    global _paused
    if gc.isenabled():
        gc.disable()
        _paused = True


def resume() -> None:
    """Collect again, leaving out what the start made (``gc.freeze``): the modules and classes it loaded stay
    until the process ends anyway, and scanning them in every full collection would stall the conversation
    for tens of milliseconds, with the audio waiting. The start's own few garbage cycles stay too (about 2 MB).

    Only undoes ``pause``: with the collector on, or off by another program's choice (tfy_live's modules run
    from it, the tests), it does nothing.
    """
    global _paused
    if not _paused:
        return
    _paused = False
    gc.freeze()
    gc.enable()
