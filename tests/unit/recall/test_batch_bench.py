"""Helpers of ``encore bench batch-recall``: a channel set's share of a run that timed
every channel apart (hand-computed), the CPU of a process tree (children included),
and the small neural fit written into the config."""

from __future__ import annotations

import subprocess
import sys
import time

import pytest

from encore.platform.config import default_config
from encore.recall.batch_bench import channel_set_view, tree_cpu_seconds, with_neural_fit

RUN = {"listeners": 4, "read_and_split_seconds": 1.0, "read_and_split_cpu_seconds": 0.5,
       "query_seconds": 2.0, "query_cpu_seconds": 1.5,
       "recall_seconds": {"a": 0.25, "b": 0.75, "nn": 4.0},
       "recall_cpu_seconds": {"a": 0.25, "b": 0.5, "nn": 6.0}}


def test_a_channel_set_is_its_base_plus_queries_plus_its_channels():
    cheap = channel_set_view(RUN, ["a", "b"], "read_and_split")
    # 1.0 + 2.0 + 0.25 + 0.75 = 4.0 wall; 0.5 + 1.5 + 0.25 + 0.5 = 2.75 CPU
    assert cheap == {"listeners": 4, "seconds": 4.0, "cpu_seconds": 2.75, "listeners_per_s": 1.0,
                     "recall_seconds": 1.0}
    heavy = channel_set_view(RUN, ["a", "b", "nn"], "read_and_split")
    assert (heavy["seconds"], heavy["cpu_seconds"], heavy["recall_seconds"]) == (8.0, 8.75, 5.0)
    with pytest.raises(KeyError):
        channel_set_view(RUN, ["missing"], "read_and_split")


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="reads /proc")
def test_tree_cpu_counts_this_process_and_a_live_child():
    child = subprocess.Popen(
        [sys.executable, "-c", "import time\nt = time.process_time()\nwhile time.process_time() - t < 0.3:\n"
         "    pass\nprint(time.process_time(), flush=True)\ntime.sleep(30)"],
        stdout=subprocess.PIPE, text=True)
    try:
        child_cpu = float(child.stdout.readline())  # the child has burnt this much and now sleeps
        mine = time.process_time()
        assert tree_cpu_seconds() >= mine + child_cpu - 0.05  # clock ticks are 10 ms
        assert tree_cpu_seconds(child.pid) == pytest.approx(child_cpu, abs=0.05)
    finally:
        child.kill()
        child.wait()


def test_the_neural_fit_is_small_and_other_channels_unchanged():
    base = default_config()
    config = with_neural_fit(base, ["youtube_dnn"], samples=1234, epochs=1)
    settings = config.recall.channel("youtube_dnn").settings
    assert (settings.epochs, settings.max_train_samples) == (1, 1234)
    assert settings.embedding_dim == base.recall.channel("youtube_dnn").settings.embedding_dim
    assert config.recall.channel("item_cf") == base.recall.channel("item_cf")
    assert base.recall.channel("youtube_dnn").settings.epochs == 4  # the default is not touched


def test_median_run_is_the_middle_wall_time_with_every_run_beside_it() -> None:
    from encore.recall.batch_bench import median_run

    runs = [{"seconds": 3.0, "cpu_seconds": 2.0}, {"seconds": 1.0, "cpu_seconds": 1.5},
            {"seconds": 2.0, "cpu_seconds": 1.0}]
    got = median_run(runs)
    assert got["seconds"] == 2.0 and got["cpu_seconds"] == 1.0
    assert got["runs_seconds"] == [3.0, 1.0, 2.0] and got["runs_cpu_seconds"] == [2.0, 1.5, 1.0]
    assert median_run(runs[:2])["seconds"] == 1.0  # even count: the lower middle
