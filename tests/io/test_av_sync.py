"""Recorder A/V sync and constant frame rate, measured on the MP4.

The test card flashes once a second with a click in the audio at the same engine time; the real
loop records both into the real recorder and ``engine.output.avsync`` finds them again in the
decoded file. The 10-minute figures are ``persona bench avsync --seconds 600 --json`` (offline
clock) and ``persona bench avsync-live --seconds 600 --json`` (the live loop's clocks).
"""

from __future__ import annotations

import numpy as np

from engine.config import Settings
from engine.output.avsync import (AUDIO_RATE, StallingSink, click_onsets, click_track,
                                  decode_recording, render_testcard, sync_figures)
from engine.output.factory import make_sink
from engine.output.recorder import RecorderSink

FPS = 30.0
SECONDS = 30


def _settings() -> Settings:
    return Settings(width=320, height=180, fps=FPS, source="synthetic", scene="testcard",
                    audit_log=None)


def test_flashes_and_clicks_stay_together_over_a_recording(tmp_path):
    path = tmp_path / "sync.mp4"
    frames = int(SECONDS * FPS)
    render_testcard(_settings(), tmp_path, [RecorderSink(path, audio_rate=AUDIO_RATE)], frames,
                    flash_every=int(FPS), audio=click_track(SECONDS + 1, FPS, int(FPS)))
    decoded = decode_recording(path)
    figures = sync_figures(decoded)
    assert figures["video_frames"] == frames
    assert figures["flashes"] == figures["clicks"] == SECONDS  # none lost, none invented
    assert figures["offset_ms_max_abs"] <= 20.0, figures
    # The frames are the loop's, in order, at a constant rate.
    assert decoded.codes == list(range(frames))
    assert figures["frame_step_ms_min"] == figures["frame_step_ms_max"] == round(1e3 / FPS, 3)


def test_click_onsets_are_found_where_they_were_put():
    """The measurement itself, on a track with known clicks and a known start time."""
    track = click_track(3.0, FPS, flash_every=15)  # a click every half second
    onsets = click_onsets(track, AUDIO_RATE, start=-0.25)
    assert np.allclose(onsets, np.arange(6) * 0.5 - 0.25, atol=1 / AUDIO_RATE)


def test_a_live_recording_keeps_a_constant_frame_rate_when_frames_drop(tmp_path):
    path = tmp_path / "live.mp4"
    recorder = make_sink(str(path))  # as a live session makes it: placed by capture time
    stats = render_testcard(_settings(), tmp_path, [recorder, StallingSink(30, 0.2)], 100,
                            flash_every=int(FPS), live=True)
    decoded = decode_recording(path)
    steps = np.diff(decoded.frame_times)
    assert np.allclose(steps, 1 / FPS, atol=1e-6)  # constant rate: no holes in the timeline
    # Every slot the clock dropped is in the file, holding the frame before it: the test card
    # numbers the frames the loop drew, so a repeated number is a filled slot. A frame for a
    # slot already written (the loop catching up) is left out, and its number is missing.
    assert stats.dropped_frames >= 12  # three stalls of six slots each, all before the end
    repeats = int(np.sum(np.diff(decoded.codes) == 0))
    assert repeats == recorder.frames_repeated
    assert abs(repeats - recorder.frames_left_out - stats.dropped_frames) <= 2
    assert len(decoded.codes) == 100 + repeats - recorder.frames_left_out
    assert len(set(decoded.codes)) == 100 - recorder.frames_left_out
    assert decoded.codes == sorted(decoded.codes)


def test_live_clock_flashes_and_clicks_stay_together_when_frames_drop(tmp_path):
    """Through the live loop's clocks: the real clock, a camera stamping when it took each
    frame, a microphone stand-in on the same clock clicking with each flash, the loop stalled
    three times (slots dropped on purpose); the recorder places both by those stamps. The
    microphone's samples reach the loop 60 ms after they were said, as the morphed voice's do
    (its algorithmic latency): the loop takes that off. The 10-minute figure is
    ``persona bench avsync-live --seconds 600 --json``."""
    path = tmp_path / "live_sync.mp4"
    seconds = 12
    frames = int(seconds * FPS)
    recorder = RecorderSink(path, audio_rate=AUDIO_RATE, timing="capture")
    stats = render_testcard(_settings(), tmp_path, [recorder, StallingSink(105, 0.2)], frames,
                            flash_every=int(FPS), live=True, clapper=True,
                            clapper_delay_s=0.06)
    decoded = decode_recording(path)
    figures = sync_figures(decoded)
    assert stats.dropped_frames >= 12, figures
    assert figures["clicks"] == seconds
    assert figures["flashes"] >= seconds - recorder.frames_left_out  # a flash may be left out
    assert figures["offset_ms_max_abs"] <= 20.0, figures
    steps = np.diff(decoded.frame_times)
    assert np.allclose(steps, 1 / FPS, atol=1e-6)  # constant rate through the drops


def test_a_microphone_clock_that_runs_fast_stays_in_sync(tmp_path):
    """A microphone whose clock runs 1000 ppm fast (ten times a typical USB microphone's drift)
    delivers 60 ms more audio a minute than the computer's clock says; its blocks also arrive
    with ±8 ms of jitter. Clicks said at known times must stay where they were said: before
    drift was followed the offset grew to the 40 ms slack and then jumped."""
    import av

    from engine.types import AudioBlock, Frame

    rate, fps, seconds, fast = 16000, 30.0, 60.0, 1.001
    said = np.arange(2.0, seconds - 1.0, 5.0)  # true times of the clicks
    rng = np.random.default_rng(0)
    image = np.zeros((16, 16, 3), np.uint8)
    path = tmp_path / "drift.mp4"

    def mic_samples(t: float) -> int:  # samples the microphone has produced by true time t
        return int(t * rate * fast)

    with RecorderSink(path, audio_rate=rate, timing="capture") as recorder:
        recorder.open(16, 16, fps)
        delivered = 0
        for k in range(int(seconds * fps)):
            t = k / fps
            recorder.write(Frame(image, t, k))
            arrived = t + rng.uniform(-0.008, 0.008)
            end = mic_samples(arrived)
            block = np.zeros(max(end - delivered, 0), np.float32)
            for click in said:  # an impulse at the sample the microphone made at that moment
                at = mic_samples(click) - delivered
                if 0 <= at < len(block):
                    block[at] = 0.9
            if len(block):
                # As the app times a drained block: it ends now, and lasted len/rate.
                recorder.write_audio(AudioBlock(block, rate, arrived - len(block) / rate))
            delivered = max(end, delivered)
    with av.open(str(path)) as container:
        audio = np.concatenate([frame.to_ndarray().ravel()
                                for frame in container.decode(audio=0)])
    found = []
    for click in said:
        window = slice(int((click - 0.15) * rate), int((click + 0.15) * rate))
        found.append((window.start + int(np.argmax(np.abs(audio[window])))) / rate)
    error_ms = (np.asarray(found) - said) * 1000.0
    assert np.abs(error_ms).max() <= 10.0, error_ms.round(1)
