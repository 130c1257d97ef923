"""tfy-live: talk to realtime voice models through the TrueFoundry AI Gateway."""

__version__ = "0.1.0"
