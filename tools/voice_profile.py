"""Make a voice preset that sounds like a reference recording.

    python tools/voice_profile.py target.wav --calibration me.wav -o scenes/voices/her.toml

The same as ``persona voice profile``; see docs/voice.md for what is measured.
"""

import sys

from engine.cli import main

if __name__ == "__main__":
    sys.exit(main(["voice", "profile", *sys.argv[1:]]))
