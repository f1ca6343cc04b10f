"""Video (and audio) outputs behind ``Sink``: virtual camera, window, recorder, y4m, memory."""
