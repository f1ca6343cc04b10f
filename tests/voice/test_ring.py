import threading
import time

import numpy as np

from engine.voice.ring import SampleRing


def test_fifo_order_across_the_wrap():
    ring = SampleRing(10)
    ring.write(np.arange(7, dtype=np.float32))
    assert list(ring.read(5)) == [0, 1, 2, 3, 4]
    assert ring.write(np.arange(7, 15, dtype=np.float32)) == 0  # wraps around the end
    assert list(ring.read()) == list(range(5, 15))
    assert ring.available() == 0


def test_full_ring_drops_the_excess_and_says_how_much():
    ring = SampleRing(4)
    assert ring.write(np.ones(6, np.float32)) == 2
    assert ring.available() == 4 and ring.free() == 0


def test_read_into_a_preallocated_buffer():
    ring = SampleRing(8)
    ring.write(np.array([1, 2, 3], np.float32))
    scratch = np.zeros(8, np.float32)
    got = ring.read(5, out=scratch)
    assert list(got) == [1, 2, 3] and got.base is scratch


def test_one_writer_one_reader_threads_lose_nothing():
    ring = SampleRing(64)
    total = 20000
    received = []

    def produce():
        sent = 0
        while sent < total:
            chunk = np.arange(sent, min(total, sent + 7), dtype=np.float32)
            written = len(chunk) - ring.write(chunk)
            sent += written
            if not written:
                time.sleep(0)  # full: let the reader run

    thread = threading.Thread(target=produce)
    thread.start()
    count = 0
    while count < total:
        chunk = ring.read(13)
        if len(chunk):
            received.append(chunk)
            count += len(chunk)
        else:
            time.sleep(0)
    thread.join()
    assert np.array_equal(np.concatenate(received), np.arange(total, dtype=np.float32))
