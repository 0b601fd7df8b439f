"""The hang detector itself (tests/hangcheck.py): a pyrunc command that overruns its timeout
fails with the Python stack of the stuck command, not a bare "timed out"."""
import fcntl
import os

import pytest

from hangcheck import PY_SPY, HangError, run_bounded

pytestmark = pytest.mark.root


def test_an_overrun_reports_the_python_stacks_of_pyrunc(runtime, make_bundle):
    bundle = make_bundle(["sleep", "1000"])
    runtime("create", "-b", bundle, "hc-stuck", check=True)
    fd = os.open(os.path.join(runtime.root, "hc-stuck"), os.O_RDONLY | os.O_DIRECTORY)
    try:
        fcntl.flock(fd, fcntl.LOCK_EX)  # `start` now waits (5 s) for our lock: 1 s is too short
        with pytest.raises(HangError) as caught:
            run_bounded(runtime.cmd("start", "hc-stuck"), timeout=1, capture_output=True)
    finally:
        os.close(fd)
    report = str(caught.value)
    assert "did not end within 1 s" in report and "start hc-stuck" in report, report
    assert "wchan=" in report
    if PY_SPY:
        assert "flock_within" in report and "Container.start" in report, report
    runtime("delete", "--force", "hc-stuck", check=True)
