"""The storage rules for what a session writes to disk: recordings and track files.

Nothing is written unless asked; what is asked for is encrypted (AES-256-GCM, key from the
passphrase in ``PERSONA_PASSPHRASE``, ``engine.safety.crypto``) unless the user explicitly opts
out with ``--unencrypted``, which is logged and recorded in the audit log. Without either, the
session is refused before it opens a device, with one line saying how to fix it.

Recordings and track files stream to their final name, so a session that crashes or loses power
keeps everything up to the last sealed chunk (encrypted) or fragment (plain) where the clinician
expects it. They are therefore made fresh (``engine.safe_write.create_new``): a name that is
taken — an earlier session's recording, or a link planted there — refuses the session instead
of overwriting or following it, and a folder or a missing folder is refused in one line.
"""

from __future__ import annotations

import logging
import os
from typing import BinaryIO

from engine.config import Settings
from engine.errors import ConfigError
from engine.output.recorder import RecorderSink
from engine.safe_write import create_new, output_path

log = logging.getLogger(__name__)

PASSPHRASE_ENV = "PERSONA_PASSPHRASE"


def storage_passphrase(path: str, settings: Settings, what: str) -> str | None:
    """The passphrase to encrypt ``path`` with, or None when the user opted out of encryption.

    Raises ConfigError when there is neither.
    """
    if settings.unencrypted:
        return None
    passphrase = os.environ.get(PASSPHRASE_ENV)
    if not passphrase:
        raise ConfigError(f"{what} {path}: recordings are encrypted; set {PASSPHRASE_ENV} to a "
                          "passphrase (or pass --unencrypted to store it in the clear)")
    return passphrase


def storage_stream(path: str, settings: Settings, what: str, audit=None) -> BinaryIO:
    """A new binary file (``path`` must not exist yet) for a recording or track file the user
    asked for: encrypted with the passphrase from the environment, or plain only when they opted
    out (logged and audited)."""
    passphrase = storage_passphrase(path, settings, what)
    if passphrase is None:
        stream = create_new(path)
        log.warning("%s %s is written UNENCRYPTED (--unencrypted)", what, path)
        if audit is not None:
            audit.record("unencrypted_storage", what=what)
        return stream
    from engine.safety.crypto import EncryptedWriter, key_from_passphrase

    return EncryptedWriter(path, key_from_passphrase(passphrase))


class StoredRecording(RecorderSink):
    """A live recording (``record:PATH`` or ``PATH.mp4``) kept by the storage rules.

    Made, it only checks the rules and that ``path`` is free, so a refused recording stops the
    session before any device opens. The file is created when the sink opens — a recording
    listed as a later alternative (``virtualcam|rec.mp4``) leaves nothing on disk unless it is
    used — and closed with it.
    """

    def __init__(self, path: str, audio_rate: int | None, settings: Settings,
                 audit=None) -> None:
        storage_passphrase(path, settings, "recording")
        output_path(path, fresh=True)
        super().__init__(path, audio_rate=audio_rate, timing="capture")
        self._settings = settings
        self._audit = audit

    def _open(self, width: int, height: int, fps: float) -> None:
        # With a stream the recorder writes fragmented MP4, which never seeks back: the only
        # kind an encrypting writer can take. ``path`` stays, to name the file in messages.
        self.stream = storage_stream(self.path, self._settings, "recording", self._audit)
        try:
            super()._open(width, height, fps)
        except BaseException:
            self.stream.close()
            os.unlink(self.path)  # made by this sink, fresh: a recording that never started
            raise                 # leaves no file behind

    def _close(self) -> None:
        try:
            super()._close()
        finally:
            self.stream.close()  # after the recorder: its last fragment goes through the stream
