"""Errors the engine raises on purpose.

Every message is written for the person at the keyboard: it names the file, field or device and
says what to do. The command line prints ``str(error)`` on one line and exits 1; anything else
that escapes is a bug and gets a traceback.
"""


class EngineError(Exception):
    """Base class for errors with an actionable, user-facing message."""


class ConfigError(EngineError):
    """A settings, scene or avatar file is malformed or names something that does not exist."""


class ResourceNotFound(EngineError):
    """A shader, avatar, scene or asset could not be found on the search path."""


class DeviceError(EngineError):
    """A camera, audio device, window or virtual camera could not be opened or was lost."""


class SinkError(DeviceError):
    """No output backend could be opened; the message lists why each one failed."""


class AssetError(EngineError):
    """A model, image or archive is corrupt, too large or otherwise unusable."""


class ConsentError(EngineError):
    """An avatar's consent manifest is missing, invalid, expired or does not cover this use."""
