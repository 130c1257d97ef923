"""How long a test waits before it calls something a hang: one factor scales every such wait.

A test that waits for something (a subprocess to end, a line on the screen, a task to
finish) gives up after a while, so that a hang fails the test instead of stalling the
suite. On a slower or busier machine than ours (a loaded CI runner, a debugger) those
waits can all be lengthened at once, as websockets' suite does with
``WEBSOCKETS_TESTS_TIMEOUT_FACTOR``::

    TFY_LIVE_TEST_TIMEOUT_FACTOR=4 scripts/test.sh

Write every hang guard in these units: ``timeout=60 * SECOND``. pytest-timeout's limit
(``timeout`` in pyproject.toml) is scaled by tests/conftest.py. Never scale a bound that
is the assertion (a latency the product promises, an order, "within one slice"): the
factor lengthens how long a test waits, never what it accepts.
"""

from __future__ import annotations

import math
import os

FACTOR_VARIABLE = "TFY_LIVE_TEST_TIMEOUT_FACTOR"

try:
    FACTOR = float(os.environ.get(FACTOR_VARIABLE, "1"))
except ValueError:
    FACTOR = 0.0
if not (FACTOR > 0 and math.isfinite(FACTOR)):
    raise ValueError(f"{FACTOR_VARIABLE} must be a number above 0, such as 2; it is {os.environ[FACTOR_VARIABLE]!r}")

SECOND = 1.0 * FACTOR  # one second of waiting for something that should have happened by then
