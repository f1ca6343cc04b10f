"""``persona devices``, ``persona voice profile`` and ``persona voice convert``."""

from __future__ import annotations

import argparse
from pathlib import Path


def register(commands) -> None:
    commands.add("devices", list_devices_command, help="list audio input and output devices")

    parser = commands.add("profile", profile_command, group="voice",
                          help="measure a target voice and write a preset that sounds like it")
    parser.add_argument("reference", help="WAV recording of the target voice")
    parser.add_argument("--calibration", help="WAV of your own voice (10–30 s of speech): "
                        "enables formant and EQ matching")
    parser.add_argument("-o", "--output", required=True, help="preset TOML file to write")
    parser.add_argument("--name", help="preset name (default: the output file's stem)")

    parser = commands.add("convert", convert_command, group="voice",
                          help="morph a WAV file through the live voice chain")
    parser.add_argument("input", help="input WAV")
    parser.add_argument("output", help="output WAV (16-bit, same rate as the input)")
    parser.add_argument("--preset", help="preset name (scenes/voices/NAME.toml) or TOML path")
    parser.add_argument("--pitch", type=float, default=None, help="pitch shift in semitones")
    parser.add_argument("--formant", type=float, default=None,
                        help="formant ratio (>1 brighter/smaller, <1 deeper/larger)")


def list_devices_command(args: argparse.Namespace) -> int:
    from engine.voice.devices import list_devices

    devices = list_devices()
    if not devices:
        print("no audio devices found")
        return 0
    print(f"{'#':>3}  {'in':>3} {'out':>3}  {'rate':>6}  name (host API)")
    for d in devices:
        marks = ("<in " if d.default_input else "") + ("<out" if d.default_output else "")
        print(f"{d.index:>3}  {d.inputs:>3} {d.outputs:>3}  {d.default_rate:>6.0f}  "
              f"{d.name} ({d.host_api}) {marks}".rstrip())
    print("select with --input/--output NAME (a case-insensitive part of the name) or #")
    return 0


def profile_command(args: argparse.Namespace) -> int:
    from engine.voice.offline import read_wav
    from engine.voice.presets import preset_to_toml
    from engine.voice.profile import measure, preset_for

    target = measure(*read_wav(args.reference), source=args.reference)
    speaker = None
    if args.calibration:
        speaker = measure(*read_wav(args.calibration), source=args.calibration)
    output = Path(args.output)
    preset = preset_for(target, speaker, name=args.name or output.stem)
    try:
        output.write_text(preset_to_toml(preset), encoding="utf-8")
    except OSError as error:
        from engine.errors import ConfigError

        raise ConfigError(f"{output}: cannot write preset ({error})") from error
    print(f"wrote {output}: target F0 {target.f0_mean_hz:.0f} Hz, formant ratio "
          f"{preset.formant_ratio:.3f}" + ("" if speaker else " (no calibration)"))
    return 0


def convert_command(args: argparse.Namespace) -> int:
    import dataclasses
    import time

    from engine.errors import ConfigError
    from engine.voice.offline import convert, read_wav, write_wav
    from engine.voice.presets import VoicePreset, checked_number, load_preset

    if args.preset is None and args.pitch is None and args.formant is None:
        raise ConfigError("voice convert: give --preset NAME or --pitch/--formant")
    # Checked before anything is read: a bad flag must not wait for a long file.
    flags = {"pitch_semitones": ("--pitch", args.pitch),
             "formant_ratio": ("--formant", args.formant)}
    changes = {key: checked_number(key, value, flag)
               for key, (flag, value) in flags.items() if value is not None}
    preset = load_preset(args.preset) if args.preset else VoicePreset(name="command-line")
    preset = dataclasses.replace(preset, **changes)
    samples, rate = read_wav(args.input)
    started = time.perf_counter()
    out = convert(samples, rate, preset)
    write_wav(args.output, out, rate)
    seconds = len(samples) / rate
    print(f"wrote {args.output}: {seconds:.1f} s with preset {preset.name!r} "
          f"in {time.perf_counter() - started:.1f} s")
    return 0
