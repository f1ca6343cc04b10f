"""``persona scenes check [FILE...]`` and ``persona scenes list``."""

from __future__ import annotations

import argparse
from pathlib import Path


def check(args: argparse.Namespace) -> int:
    """Validate scene files (all on the search path when none are named): one line per file,
    ``file:line: field: message`` for the first problem of each; exit 1 if any has one.

    Unless ``--syntax-only``, each scene's avatar is read and its consent checked for ``--use``
    exactly as a session would (files, manifest, signature; no GPU needed), so "ok" means the
    scene will load."""
    from engine.avatar.loader import prepare_avatar
    from engine.errors import EngineError
    from engine.scenes import (SceneError, check_references, load_scene, reference_error,
                               resolve_avatar, scene_files)

    paths = [Path(name) for name in args.files] if args.files else scene_files()
    if not paths:
        print("no scene files found")
        return 1
    failed = 0
    for path in paths:
        try:
            scene = load_scene(path)
            if not args.syntax_only:
                check_references(scene)
                try:
                    prepare_avatar(resolve_avatar(scene), use=args.use)
                except EngineError as error:
                    raise reference_error(scene, ("avatar",),
                                          f"{scene.avatar!r} will not load: {error}") from None
        except SceneError as error:
            failed += 1
            print(error)
            continue
        key = f"[{scene.hotkey}] " if scene.hotkey else ""
        print(f"{path}: ok: {key}{scene.name}")
    return 1 if failed else 0


def list_scenes(args: argparse.Namespace) -> int:
    from engine.scenes import load_scenes

    for scene in load_scenes(args.dir):
        background = (f"camera-{scene.background.camera}" if scene.background.camera
                      else "image" if scene.background.image else "colour")
        print(f"{scene.hotkey or '-'}  {scene.name:<24} avatar={scene.avatar} "
              f"voice={scene.voice or 'off'} background={background}")
    return 0


def register(commands) -> None:
    parser = commands.add("check", check, group="scenes",
                          help="validate scene files; file:line: message for each problem")
    parser.add_argument("files", nargs="*", help="scene files (default: every scene found)")
    parser.add_argument("--syntax-only", action="store_true",
                        help="do not check that the avatar and voice preset exist and load")
    parser.add_argument("--use", default="privacy",
                        help="the use whose consent to check: therapy, privacy or demo")
    parser = commands.add("list", list_scenes, group="scenes",
                          help="list the scenes a session would offer, in hotkey order")
    parser.add_argument("--dir", default=None, help="an extra folder of scene files")
