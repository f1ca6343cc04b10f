"""The one worker mechanism: background priority for the worker's thread and every thread it
starts, the model built on that thread, and a failing build raised where the worker is made."""

from __future__ import annotations

import os
import sys
import threading

import pytest

from engine.worker import BACKGROUND_NICE, LatestWorker

linux_only = pytest.mark.skipif(not sys.platform.startswith("linux"),
                                reason="per-thread nice values are Linux's")


def own_nice() -> int:
    """The calling thread's nice value (Linux keeps one per thread)."""
    return os.getpriority(os.PRIO_PROCESS, threading.get_native_id())


def finished(worker: LatestWorker, item):
    worker.submit(item)
    return worker.wait_for(lambda result: result[0] == item, timeout=5.0)


@linux_only
def test_work_and_the_threads_it_starts_run_below_the_loop():
    caller = own_nice()
    started: dict[str, int] = {}

    def prepare() -> None:  # a library starting its own pool while its model is built
        pool = threading.Thread(target=lambda: started.update(pool=own_nice()))
        pool.start()
        pool.join()
        started["prepare"] = own_nice()

    worker = LatestWorker(lambda item: (item, own_nice()), "test-worker", prepare=prepare)
    try:
        expected = min(caller + BACKGROUND_NICE, 19)
        # Both happened before the constructor returned.
        assert started == {"pool": expected, "prepare": expected}
        assert finished(worker, 1) == (1, expected)
        assert own_nice() == caller  # the caller's own is untouched
    finally:
        worker.close()


def test_a_failing_prepare_is_raised_by_the_constructor():
    before = threading.active_count()

    def broken() -> None:
        raise FileNotFoundError("face model missing")

    with pytest.raises(FileNotFoundError, match="face model missing"):
        LatestWorker(lambda item: item, "test-worker", prepare=broken)
    assert threading.active_count() == before  # its thread has ended


def test_prepare_runs_on_the_worker_thread_before_any_work():
    order: list[tuple[str, int]] = []
    worker = LatestWorker(lambda item: (item, order.append(("work", threading.get_ident()))),
                          "test-worker",
                          prepare=lambda: order.append(("prepare", threading.get_ident())))
    try:
        finished(worker, 7)
        assert [what for what, _ in order] == ["prepare", "work"]
        assert order[0][1] == order[1][1] != threading.get_ident()
    finally:
        worker.close()
