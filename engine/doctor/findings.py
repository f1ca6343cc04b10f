"""What ``persona doctor`` reports: one ``Finding`` per line, and probes that cannot hang.

A finding is ``ok``, ``MISSING`` (the session cannot work as the quick start promises until it is
fixed) or ``WARNING`` (it works, but not as well or not as safely as it should). Every finding
that is not ok carries the fix, written for the person at the keyboard.
"""

from __future__ import annotations

import threading
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Literal, TypeVar

from engine.errors import DeviceError

Status = Literal["ok", "MISSING", "WARNING"]
OK: Status = "ok"
MISSING: Status = "MISSING"
WARNING: Status = "WARNING"

T = TypeVar("T")


@dataclass(frozen=True)
class Finding:
    """One checked thing: ``what`` (short name), what was found, and the fix when not ok."""

    check: str  # the --check group that produced it
    status: Status
    what: str
    detail: str
    fix: str = ""
    figures: dict[str, float | str] = field(default_factory=dict)  # measured values, for --json

    def line(self) -> str:
        text = f"{self.status}: {self.what}: {self.detail}"
        return f"{text} — fix: {self.fix}" if self.fix and self.status != OK else text

    def to_json(self) -> dict:
        return {"check": self.check, "status": self.status, "what": self.what,
                "detail": self.detail, "fix": self.fix, "figures": dict(self.figures)}


class ProbeTimeout(DeviceError):
    """A device or library did not answer in time."""


def within(seconds: float, probe: Callable[[], T], what: str) -> T:
    """``probe()``'s result, or ProbeTimeout after ``seconds``.

    Drivers can block inside C code (a camera that never answers, a sound server that is
    wedged), where no Python timeout reaches; the probe therefore runs on a daemon thread that is
    abandoned if it does not finish, so the doctor itself always ends.
    """
    outcome: dict[str, object] = {}
    done = threading.Event()

    def run() -> None:
        try:
            outcome["value"] = probe()
        except BaseException as error:  # handed to the caller's thread as it is
            outcome["error"] = error
        finally:
            done.set()

    threading.Thread(target=run, name=f"doctor: {what}", daemon=True).start()
    if not done.wait(seconds):
        raise ProbeTimeout(f"{what} did not answer within {seconds:g} s")
    if "error" in outcome:
        raise outcome["error"]  # type: ignore[misc]
    return outcome["value"]  # type: ignore[return-value]
