"""Scene file validation: errors name file, line and field and suggest the nearest name."""

from __future__ import annotations

from pathlib import Path

import pytest

from engine.cli import main
from engine.resources import PROJECT_ROOT, SearchPath
from engine.scenes import SceneError, key_lines, load_scene, load_scenes, parse_scene

GOOD = """\
name = "Calm"
hotkey = "1"
avatar = "default"
voice = "calm-warm"

[background]
color = "#102030"

[style]
intensity = 0.8
channel_gains = { jawOpen = 0.5 }
mirror = false

[framing]
zoom = 1.2
offset = [0.1, -0.05]
"""


def parse(text: str) -> object:
    return parse_scene(Path("scenes/test.toml"), text)


def test_a_good_scene_reads_every_field():
    scene = parse(GOOD)
    assert (scene.name, scene.hotkey, scene.avatar, scene.voice) == ("Calm", "1", "default",
                                                                     "calm-warm")
    assert scene.background.color == pytest.approx((16 / 255, 32 / 255, 48 / 255))
    assert scene.style.intensity == 0.8 and scene.style.channel_gains == {"jawOpen": 0.5}
    assert scene.style.mirror is False
    assert scene.framing.zoom == 1.2 and scene.framing.offset == (0.1, -0.05)


@pytest.mark.parametrize("old, new, line, field, words", [
    ("intensity = 0.8", "intesity = 0.8", 10, "style.intesity", "did you mean 'intensity'"),
    ("jawOpen = 0.5", "jawOpn = 0.5", 11, "style.channel_gains.jawOpn", "did you mean 'jawOpen'"),
    ('voice = "calm-warm"', 'vioce = "calm-warm"', 4, "vioce", "did you mean 'voice'"),
    ("zoom = 1.2", "zoom = 7", 15, "framing.zoom", "between 0.5 and 3"),
    ('color = "#102030"', 'color = "blue"', 7, "background.color", "#rrggbb"),
    ("mirror = false", 'mirror = "no"', 12, "style.mirror", "true or false"),
    ('hotkey = "1"', 'hotkey = "Q"', 2, "hotkey", "1–9"),
])
def test_errors_name_line_and_field_and_suggest(old, new, line, field, words):
    with pytest.raises(SceneError) as caught:
        parse(GOOD.replace(old, new))
    error = caught.value
    assert (error.line, error.field) == (line, field)
    assert str(error).startswith(f"scenes/test.toml:{line}: {field}: ")
    assert words in str(error)


def test_the_earliest_problem_in_the_file_is_the_one_reported():
    text = 'name = "x"\navatar = "a"\nbackground = "camera-blurr"\nhotkey = "A"\n'
    with pytest.raises(SceneError, match=r":3: background: "):
        parse(text)
    with pytest.raises(SceneError, match=r":4: hotkey: "):
        parse(text.replace("camera-blurr", "camera-blur"))


def test_short_background_forms_and_their_typos():
    assert parse('avatar = "a"\nbackground = "camera-blur"\n').background.camera == "blur"
    assert parse('avatar = "a"\nbackground = "camera-segmented"\n').background.camera == \
        "segmented"
    with pytest.raises(SceneError, match=r":2: background: .*did you mean 'camera-blur'"):
        parse('avatar = "a"\nbackground = "camera-blurr"\n')
    with pytest.raises(SceneError, match=r":3: background.camera: .*did you mean 'segmented'"):
        parse('avatar = "a"\n[background]\ncamera = "segmentd"\n')


def test_broken_toml_and_missing_avatar_are_located():
    with pytest.raises(SceneError, match=r"^scenes/test.toml:2: not valid TOML"):
        parse('name = "x"\navatar = "unterminated\n')
    with pytest.raises(SceneError, match=r"avatar: missing"):
        parse('name = "x"\n')


def test_key_lines_follow_tables_and_dotted_keys():
    lines = key_lines('a = 1\n[style]\n# intensity = 3\nintensity = 2\nstyle2.x = 1\n')
    assert lines[("a",)] == 1 and lines[("style", "intensity")] == 4
    assert lines[("style", "style2", "x")] == 5
    lines = key_lines('badge = """two\nfake = 1\nlines"""\nvoice = "x"\n')
    assert lines == {("badge",): 1, ("voice",): 4}


def test_unreadable_and_oversized_files_are_refused(tmp_path):
    with pytest.raises(SceneError, match="cannot read"):
        load_scene(tmp_path / "missing.toml")
    big = tmp_path / "big.toml"
    big.write_text("# " + "x" * 70_000)
    with pytest.raises(SceneError, match="larger than"):
        load_scene(big)


def test_load_scenes_sorts_by_hotkey_and_leaves_out_broken_files(tmp_path):
    (tmp_path / "b.toml").write_text('name = "B"\nhotkey = "2"\navatar = "x"\n')
    (tmp_path / "a.toml").write_text('name = "A"\nhotkey = "3"\navatar = "x"\n')
    (tmp_path / "c.toml").write_text('name = "C"\navatar = "x"\n')
    (tmp_path / "d.toml").write_text('name = "D"\nhotkey = "2"\navatar = "x"\n')
    (tmp_path / "broken.toml").write_text('name = "E"\navatar = [\n')
    problems = []
    scenes = load_scenes(_search(tmp_path), problems)
    assert [(s.name, s.hotkey) for s in scenes] == [("B", "2"), ("A", "3"), ("C", None),
                                                    ("D", None)]
    assert len(problems) == 1 and "broken.toml:2" in str(problems[0])


def _search(folder: Path) -> SearchPath:
    root = folder.parent / "root"
    root.mkdir()
    (root / "scenes").symlink_to(folder)
    return SearchPath([root])


def test_shipped_scenes_are_valid_and_cover_the_range():
    scenes = load_scenes(SearchPath([PROJECT_ROOT]))
    assert len(scenes) >= 4
    assert [s.hotkey for s in scenes[:4]] == ["1", "2", "3", "4"]
    assert any(s.background.camera for s in scenes), "a privacy scene hides the real room"
    from engine.scenes import check_voice

    for scene in scenes:
        check_voice(scene, SearchPath([PROJECT_ROOT]))  # every voice preset named exists


def test_scenes_check_command(tmp_path, capsys):
    good, bad = tmp_path / "good.toml", tmp_path / "bad.toml"
    good.write_text('name = "Good"\navatar = "x"\n')
    bad.write_text('name = "Bad"\navatar = "x"\n[style]\nintensity = 9\n')
    assert main(["scenes", "check", "--syntax-only", str(good)]) == 0
    assert main(["scenes", "check", "--syntax-only", str(good), str(bad)]) == 1
    out = capsys.readouterr().out.splitlines()
    assert out[-1].startswith(f"{bad}:4: style.intensity: must be between 0 and 3")


def test_scenes_check_reports_a_missing_avatar_with_a_suggestion(tmp_path, capsys):
    root = tmp_path / "root"
    (root / "avatars" / "default").mkdir(parents=True)
    (root / "avatars" / "default" / "avatar.toml").write_text("")
    scene = tmp_path / "s.toml"
    scene.write_text('name = "S"\n\navatar = "defualt"\n')
    from engine.scenes import check_references

    with pytest.raises(SceneError, match=r"s.toml:3: avatar: .*did you mean 'default'"):
        check_references(load_scene(scene), SearchPath([root]))


def test_a_refused_scene_leaves_no_reference_cycles():
    """A refusal mid-session must not keep the loop's frames (and camera images) alive until
    a full garbage collection: the soak saw 2.7 MB per refusal before this was fixed."""
    import gc

    def refuse() -> str:
        try:
            parse('avatar = "a"\n[style]\nintesity = 1\nmirror = 3\n')
        except SceneError as error:
            return str(error)
        return ""

    gc.collect()
    gc.disable()
    try:
        assert all(refuse() for _ in range(3))
        assert gc.collect() == 0
    finally:
        gc.enable()


def test_every_shipped_avatar_folder_is_listed_and_a_user_folder_shadows_its_namesake(tmp_path):
    from engine.resources import SHIPPED_ROOT, SearchPath
    from engine.scenes import avatar_names

    shipped = avatar_names(SearchPath([SHIPPED_ROOT]))
    assert {"anonymous", "default", "toon"} <= set(shipped)  # one per folder, not per file name
    mine = tmp_path / "avatars" / "default"
    mine.mkdir(parents=True)
    (mine / "avatar.toml").write_text('kind = "gltf"\n')
    search = SearchPath([tmp_path, SHIPPED_ROOT])
    assert sorted(avatar_names(search)) == sorted(shipped)
    assert search.list("avatars", "*/avatar.toml")[0].parent == mine
