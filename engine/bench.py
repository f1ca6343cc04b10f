"""``persona bench NAME``: benchmarks that print the figures they measured in one run.

Each benchmark is a function ``run(seconds: float | None) -> dict[str, float]`` found lazily by
name in ``BENCHMARKS``. With ``--json`` the last line printed is one JSON object of those figures,
keys named for what they measure (``frame_ms_p50``, ``on_time_pct``, ...); without it they print
as an aligned table.
"""

from __future__ import annotations

import argparse
import importlib
import json

from engine.errors import ConfigError

# name → "module:function". Modules are imported only when their benchmark runs.
BENCHMARKS: dict[str, str] = {
    "loop": "engine.app_bench:bench_loop",
    "e2e": "engine.e2e_bench:bench_e2e",
    "soak": "engine.soak:bench_soak",
    "session": "engine.session_soak:bench_session",
    "hud": "engine.hud:bench_hud",
    "render": "engine.avatar.bench:bench_render",
    "faceswap": "engine.avatar.faceswap.bench:bench_faceswap",
    "neural": "engine.neural.bench:bench_neural",
    "tracking": "engine.tracking.bench:bench_tracking",
    "fidelity": "engine.tracking.fidelity:bench_fidelity",
    "voice": "engine.voice.bench:bench_voice",
    "voice-soak": "engine.voice.bench:bench_voice_soak",
    "io": "engine.output.bench:bench_io",
    "avsync": "engine.output.avsync:bench_avsync",
    "avsync-live": "engine.output.avsync:bench_avsync_live",
    "watermark": "engine.safety.watermark_bench:bench_watermark",
}


def run_benchmark(args: argparse.Namespace) -> int:
    if args.name not in BENCHMARKS:
        known = ", ".join(sorted(BENCHMARKS))
        raise ConfigError(f"unknown benchmark {args.name!r}; known: {known}")
    module_name, function_name = BENCHMARKS[args.name].split(":")
    function = getattr(importlib.import_module(module_name), function_name)
    figures = function(args.seconds)
    if args.json:
        print(json.dumps(figures))
    else:
        width = max(map(len, figures))
        for key, value in figures.items():
            print(f"{key:<{width}}  {value}")
    return 0


def register(commands) -> None:
    parser = commands.add("bench", run_benchmark, help="run a benchmark and print its figures")
    parser.add_argument("name", help="benchmark: " + ", ".join(sorted(BENCHMARKS)))
    parser.add_argument("--seconds", type=float, default=None, help="how long to measure")
    parser.add_argument("--json", action="store_true", help="print one JSON object last")
