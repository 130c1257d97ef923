"""Every error a user can meet, with the exit code it ends the program with.

    TfyLiveError                 exit 1   (base; never raised bare)
    ├── ConfigError              exit 2   settings missing or malformed, bad option
    ├── GatewayError             exit 3   cannot connect, rejected, or the session closed
    │   └── NoReplyError         exit 3   the model did not answer in time
    ├── AudioError               exit 4   no device, device busy, unsupported rate
    └── InputFileError           exit 5   unreadable or non-audio input file

Ctrl-C ends the program with exit 130. Foreign exceptions (SDK, websockets,
PortAudio, libsndfile) are translated into these at the module that meets them
(`raise XError("… fix …") from exc`); the CLI prints only ``str(error)``, which
must be one line that names the fix.
"""

from __future__ import annotations


class TfyLiveError(Exception):
    exit_code = 1


class ConfigError(TfyLiveError):
    exit_code = 2


class GatewayError(TfyLiveError):
    """``retryable``: the connection failed in a way a new one may not (a drop, a restart, 1011)."""

    exit_code = 3

    def __init__(self, message: str, *, retryable: bool = False, http_status: int | None = None) -> None:
        super().__init__(message)
        self.retryable = retryable
        self.http_status = http_status  # the status of a refused WebSocket upgrade


class NoReplyError(GatewayError):
    pass


class AudioError(TfyLiveError):
    exit_code = 4


class InputFileError(TfyLiveError):
    exit_code = 5


EXIT_INTERRUPTED = 130
