"""The doctor's consent check: every scene's avatar, read and consent-checked as a session would
(``resolve_avatar``, ``read_avatar``, ``check_avatar_consent`` for the configured use), without
loading anything onto the GPU and without writing to the audit log."""

from __future__ import annotations

from engine.config import Settings
from engine.doctor.findings import MISSING, OK, WARNING, Finding
from engine.doctor.graphics import session_scene
from engine.errors import EngineError
from engine.scenes import Scene, SceneError, load_scenes, resolve_avatar


def check_consent(settings: Settings) -> list[Finding]:
    problems: list[SceneError] = []
    scenes = load_scenes(settings.scenes_dir, problems)
    findings = [Finding("consent", WARNING, "scene file", str(problem),
                        "fix the file (persona scenes check); until then the session leaves "
                        "this scene out") for problem in problems]
    if not scenes:
        return findings + [Finding("consent", MISSING, "scenes", "no scene file loads",
                                   "persona scenes check says what is wrong")]
    try:
        first = session_scene(settings)
    except EngineError:
        first = scenes[0]
    return findings + [_scene_consent(scene, settings.use, scene == first) for scene in scenes]


def _scene_consent(scene: Scene, use: str, starts: bool) -> Finding:
    from engine.avatar.loader import read_avatar
    from engine.avatar.manifest import MANIFEST
    from engine.safety.consent import check_avatar_consent

    key = f" (key {scene.hotkey})" if scene.hotkey else ""
    what = f"consent, scene {scene.name!r}{key}"
    try:
        found = resolve_avatar(scene)
        manifest = read_avatar(found)
        if not manifest.is_folder:
            raise EngineError(f"{found}: a bare model file carries no consent manifest")
        result = check_avatar_consent(found, manifest.toml, use)
    except EngineError as error:
        # A refused starting scene stops the session; any other is refused when switched to.
        return Finding("consent", MISSING if starts else WARNING, what, str(error),
                       f"put the model in an avatar folder whose {MANIFEST} [consent] covers "
                       f"{use!r} (persona avatar sign DIR --key KEY; docs/safety.md), or choose "
                       "another avatar for this scene")
    if result.synthetic:
        return Finding("consent", OK, what, f"avatar {scene.avatar!r} depicts no real person")
    return Finding("consent", OK, what,
                   f"avatar {scene.avatar!r}: {result.likeness} consented to {use!r} until "
                   f"{result.expires}")
