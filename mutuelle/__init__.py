"""mutuelle: a territorial data commons for local governments."""

__version__ = "0.1.0"
