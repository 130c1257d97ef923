"""Every error a user can meet, with the exit code it ends the program with.

    TfyLiveError                 exit 1   (base; never raised bare)
    ├── ConfigError              exit 2   settings missing or malformed, bad option
    ├── GatewayError             exit 3   cannot connect, rejected, or the session closed
    │   └── NoReplyError         exit 3   the model did not answer in time
    ├── AudioError               exit 4   no device, device busy, unsupported rate
    │   └── NoDeviceError        exit 4   no device of the kind at all (no sound card, no audio system)
    └── InputFileError           exit 5   unreadable or non-audio input file

Ctrl-C ends the program with exit 130. Foreign exceptions (SDK, websockets,
PortAudio, libsndfile) are translated into these at the module that meets them
(`raise XError("… fix …") from exc`); the CLI prints only ``str(error)``, which
must be one line that names the fix.

A ``GatewayError`` may carry a ``Cause``: what the failure means for a session
that would try again (``link.Link`` decides from it), read from the provider's
own words at the boundary (``gateway.errors.close_cause``).
"""

from __future__ import annotations

import enum


class TfyLiveError(Exception):
    exit_code = 1


class ConfigError(TfyLiveError):
    exit_code = 2


class Cause(enum.Enum):
    """What a failed connection means, whatever the provider: the link's retry decisions read it."""

    QUOTA = "quota"  # the provider account's quota is spent: every new connection would get the same
    MODEL = "model"  # the model does not exist here or is not a Live model
    STALE_SESSION = "stale session"  # the resumption handle is no longer known: only a fresh session helps
    DEADLINE = "deadline"  # the connection's time ran out (after goAway, or a slow backend)
    UNAVAILABLE = "unavailable"  # the service is briefly down or overloaded: often clears in seconds
    POLICY = "policy"  # refused by policy for another reason (1008 that names neither model nor session)


class GatewayError(TfyLiveError):
    """``retryable``: the connection failed in a way a new one may not (a drop, a restart, 1011).

    ``cause``: what the provider said the failure was, when it said (None: only the code or status is known).
    """

    exit_code = 3

    def __init__(self, message: str, *, retryable: bool = False, http_status: int | None = None,
                 cause: Cause | None = None) -> None:
        super().__init__(message)
        self.retryable = retryable
        self.http_status = http_status  # the status of a refused WebSocket upgrade
        self.cause = cause


class NoReplyError(GatewayError):
    pass


class AudioError(TfyLiveError):
    exit_code = 4


class NoDeviceError(AudioError):
    """The machine has no device of the kind (or no audio system): a fact about it, not a bad choice.

    ``doctor`` skips its audio checks on it rather than failing; ``talk --local`` speaks its sample instead.
    """


class InputFileError(TfyLiveError):
    exit_code = 5


EXIT_INTERRUPTED = 130
