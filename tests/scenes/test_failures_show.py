"""Failures that look like failures: a scene whose avatar is refused is never replaced silently by
another avatar — live it starts behind the card with the reason in the status, offline the
render fails, and ``scenes check`` says so before a session does."""

from __future__ import annotations

import subprocess
import sys

from dataclasses import replace

import numpy as np
import pytest

from engine.blank import blank_card
from engine.hud import refusal_shown


@pytest.fixture
def refused_scene(tmp_path, shared_asset):
    """A scene whose avatar depicts a real person without a signed manifest, beside a good one."""
    import shutil

    avatar = tmp_path / "avatars" / "jane"
    avatar.mkdir(parents=True)
    shutil.copy(shared_asset("gltf/SimpleMorph/SimpleMorph.gltf"), avatar)
    (avatar / "avatar.toml").write_text('model = "SimpleMorph.gltf"\n[consent]\n'
                                        'likeness = "Jane Example"\n')
    scenes = tmp_path / "scenes"
    scenes.mkdir()
    (scenes / "jane.toml").write_text('name = "Jane"\nhotkey = "1"\navatar = "../avatars/jane"\n')
    (scenes / "calm.toml").write_text('name = "Calm"\nhotkey = "2"\navatar = "default"\n')
    return scenes


def test_a_live_session_starts_behind_the_card_with_the_reason(refused_scene):
    from engine.capture.synthetic import SyntheticSource
    from engine.config import Settings
    from engine.output.memory import MemorySink
    from engine.performer import Pose, ScriptedPerformer
    from engine.scenes import load_scenes
    from engine.session import build_app, offline_clock

    size = (160, 90)
    settings = Settings(width=size[0], height=size[1], scene="Jane", audit_log=None)
    sink = MemorySink(max_frames=2)
    session = build_app(settings, source=SyntheticSource(size, 30.0, realtime=False),
                        tracker=ScriptedPerformer((Pose("smile", 5.0),), frame_rate=30.0),
                        sinks=[sink], clock=offline_clock(30.0),
                        scenes=load_scenes(refused_scene), realtime=True)
    try:
        session.app.run(max_frames=3)
        status = session.app.status()
        assert status.blank and status.refused is not None
        assert status.refused.scene == "Jane" and "consent" in status.refused.reason
        # The reason stays on the HUD as long as the card is up, not just for a few seconds.
        later = replace(status, refused=replace(status.refused, age_s=600.0))
        assert refusal_shown(later) and not refusal_shown(replace(later, blank=False))
        shown = sink.frames[-1].image.astype(int)
        assert np.abs(shown - blank_card(size).astype(int)).mean() < 8.0  # the card (+ badge)
    finally:
        session.close()


def run_persona(*args: str, cwd=None) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "engine.cli", *args], capture_output=True,
                          text=True, timeout=120, cwd=cwd)


def test_a_render_that_cannot_use_its_avatar_fails(refused_scene, tmp_path):
    output = tmp_path / "out.mp4"
    result = run_persona("render", "--scene", str(refused_scene / "jane.toml"), "--script",
                         "smile@0.2", "--size", "160x90", "-o", str(output))
    assert result.returncode == 1, result.stderr
    errors = [line for line in result.stderr.splitlines() if line.startswith("persona:")]
    assert len(errors) == 1 and "Jane" in errors[0] and "consent" in errors[0]
    assert "Traceback" not in result.stderr and not output.exists()


def test_scenes_check_loads_the_avatar_and_its_consent(refused_scene):
    result = run_persona("scenes", "check", str(refused_scene / "jane.toml"),
                         str(refused_scene / "calm.toml"))
    assert result.returncode == 1
    jane, calm = result.stdout.strip().splitlines()
    assert jane.startswith(f"{refused_scene / 'jane.toml'}:3:") and "will not load" in jane
    assert "consent" in jane and calm.endswith("ok: [2] Calm")
