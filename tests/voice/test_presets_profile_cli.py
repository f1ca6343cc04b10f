"""Preset files, voice profiles and the voice command line."""

from __future__ import annotations

import numpy as np
import pytest

from engine.cli import main
from engine.errors import ConfigError
from engine.voice.offline import convert, read_wav, write_wav
from engine.voice.presets import list_presets, load_preset, preset_from_dict, preset_to_toml
from engine.voice.profile import measure, preset_for


def test_shipped_presets_load_and_round_trip():
    import tomllib

    names = list_presets()
    assert {"identity", "calm-warm", "bright-character", "anonymous-deep"} <= set(names)
    for name in names:
        preset = load_preset(name)
        assert preset.name == name
        assert preset_from_dict(tomllib.loads(preset_to_toml(preset))) == preset
    assert load_preset("identity").is_identity


@pytest.mark.parametrize("text, message", [
    ("pitch_semitone = 3", "unknown field 'pitch_semitone'"),
    ("formant_ratio = 7.0", "'formant_ratio' = 7.0 is outside"),
    ("breathiness = 'lots'", "'breathiness' must be a number"),
    ("eq = [[100000, 3]]", "'eq' point"),
    ("pitch_semitones = ", "invalid TOML"),
])
def test_bad_preset_files_name_the_file_and_field(tmp_path, text, message):
    path = tmp_path / "broken.toml"
    path.write_text(text)
    with pytest.raises(ConfigError) as error:
        load_preset(path)
    assert str(path) in str(error.value) and message in str(error.value)


def test_profile_maps_a_speaker_onto_a_target_voice(speech, vowels):
    target_samples, rate = speech  # a higher female voice
    speaker_samples, _ = vowels  # a lower male voice as the "live" speaker
    target, speaker = measure(target_samples, rate), measure(speaker_samples, rate)
    preset = preset_for(target, speaker, name="her")
    assert preset.pitch_target_hz == pytest.approx(target.f0_mean_hz, rel=0.01)
    assert preset.formant_ratio > 1.0  # a shorter vocal tract than the speaker's
    morphed = convert(speaker_samples, rate, preset)
    # The speaker's mean pitch (geometric, as the profile measures it) now sits within 5 % of
    # the target's; it was about half of it.
    assert measure(speaker_samples, rate).f0_mean_hz < 0.6 * target.f0_mean_hz
    assert measure(morphed, rate).f0_mean_hz == pytest.approx(target.f0_mean_hz, rel=0.05)


def test_profile_of_silence_is_a_clear_error():
    from engine.errors import AssetError

    with pytest.raises(AssetError, match="too little voiced speech"):
        measure(np.zeros(16000, np.float32), 16000, source="quiet.wav")


def test_voice_profile_and_convert_commands(tmp_path, shared_asset, capsys):
    reference = shared_asset("speech/librispeech_198-209-0000_first5.6s_16k.wav")
    calibration = shared_asset("speech/vaiueo2d.wav")
    preset_path = tmp_path / "her.toml"
    assert main(["voice", "profile", str(reference), "--calibration", str(calibration),
                 "-o", str(preset_path)]) == 0
    assert load_preset(preset_path).name == "her"

    samples, rate = read_wav(calibration)
    short = tmp_path / "in.wav"
    write_wav(short, samples, rate)
    out = tmp_path / "out.wav"
    assert main(["voice", "convert", str(short), str(out), "--preset", str(preset_path)]) == 0
    converted, out_rate = read_wav(out)
    assert out_rate == rate and len(converted) == len(samples)
    assert main(["voice", "convert", str(short), str(out), "--pitch", "3", "--formant",
                 "1.1"]) == 0
    capsys.readouterr()


def test_convert_command_rejects_bad_input(tmp_path, capsys):
    missing = tmp_path / "missing.wav"
    assert main(["voice", "convert", str(missing), str(tmp_path / "o.wav"), "--pitch", "2"]) == 1
    assert "missing.wav" in capsys.readouterr().err
    garbage = tmp_path / "garbage.wav"
    garbage.write_bytes(b"RIFF\x00\x00not really a wav")
    assert main(["voice", "convert", str(garbage), str(tmp_path / "o.wav"), "--pitch", "2"]) == 1
    assert "garbage.wav" in capsys.readouterr().err
    assert main(["voice", "convert", str(garbage), str(tmp_path / "o.wav"),
                 "--preset", "no-such-voice"]) == 1
    assert "no-such-voice" in capsys.readouterr().err
