"""What every avatar kind implements, and what it is given each frame.

``Avatar`` is the protocol; ``AvatarInput`` is one frame's input; ``LoadedAvatar`` is an avatar
with what its kind and manifest say about it; ``frame_input`` is the privacy rule, in one place:
what of the real person an avatar may see this frame.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, Protocol, runtime_checkable

import moderngl

from engine.types import Expression, FaceState, Frame

if TYPE_CHECKING:
    from engine.avatar.manifest import AvatarManifest


@dataclass(frozen=True)
class AvatarInput:
    """One frame's input to an avatar.

    ``face`` (landmarks, head pose) is given only to kinds that declared ``needs_landmarks``;
    ``camera`` (the real camera picture) only to kinds that declared ``needs_camera``, and only
    where the scene and the likeness's consent allow it (``frame_input``).
    """

    expression: Expression
    face: FaceState | None = None
    camera: Frame | None = None


@runtime_checkable
class Avatar(Protocol):
    """Draws a face into a framebuffer the compositor owns.

    GL resources are created once, when the avatar is made; ``render`` only updates uniforms and
    draws. The target already holds the scene's background and a cleared depth buffer: the avatar
    draws over it with ordinary alpha blending and must not clear colour. (Full-screen passes cost
    5–10 ms each at 720p on llvmpipe, so there is no separate avatar layer to composite.)
    ``render`` leaves blending/depth state as it likes; the compositor sets what it needs. A kind
    may declare ``uses_depth = False`` (it orders its own triangles): its target then has no
    depth buffer, which saves llvmpipe 1–2 ms a 720p frame. Slow
    work (neural inference) belongs on a worker (``engine.avatar.worker_avatar``): ``render``
    never waits for it.
    """

    def render(self, frame: AvatarInput, target: moderngl.Framebuffer) -> None:
        """Draw the avatar over the background already in ``target`` (bound, viewport set)."""

    def release(self) -> None:
        """Free GL resources; safe to call more than once."""


@dataclass
class LoadedAvatar:
    """An avatar on the GPU with what it may be given per frame."""

    avatar: Avatar
    name: str
    needs_landmarks: bool = False
    needs_camera: bool = False
    # The likeness may be combined with the live camera picture (synthetic, or [consent] camera).
    camera_consented: bool = False
    manifest: AvatarManifest | None = None
    use: str | None = None  # the consent use it was checked for; None: not checked (tools)

    @classmethod
    def of(cls, avatar: Avatar, name: str = "avatar") -> LoadedAvatar:
        """An avatar that takes the expression only (tests, tools)."""
        return cls(avatar, name)

    def release(self) -> None:
        self.avatar.release()


def frame_input(avatar: LoadedAvatar, expression: Expression, face: FaceState | None,
                camera: Frame | None, anonymous_scene: bool) -> AvatarInput:
    """The privacy rule: a kind that did not ask for the camera never sees it, nor does any
    avatar in a scene that promises anonymity or whose likeness was not consented for it."""
    allow_camera = avatar.needs_camera and avatar.camera_consented and not anonymous_scene
    return AvatarInput(expression,
                       face if avatar.needs_landmarks else None,
                       camera if allow_camera else None)
