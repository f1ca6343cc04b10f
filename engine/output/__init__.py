"""Video (and audio) outputs behind ``Sink``: virtual camera, window, recorder, y4m, memory."""

from engine.output.base import AudioSink, BaseSink, Sink
from engine.output.factory import first_working, make_sink, open_sinks

__all__ = ["AudioSink", "BaseSink", "Sink", "first_working", "make_sink", "open_sinks"]
