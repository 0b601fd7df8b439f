import shutil, os, uuid
import pytest
from test_faults import *  # noqa

@pytest.mark.parametrize("step", ["ready", "init-pid"])
def test_mut(runtime, faulty, step):
    cid = f"pyrunc-mut-{uuid.uuid4().hex[:6]}"
    faulty.crash(step, cid)
    d = state_json(runtime, cid)
    faulty.tracker.note(d["pid"])
    shutil.rmtree(os.path.join(runtime.root, cid))
    try:
        assert_nothing_left(runtime, faulty, cid)
    finally:
        if alive(d["pid"]): os.kill(d["pid"], 9)
        import time; time.sleep(0.3)
        for c in cgroup_dirs(cid): os.rmdir(c)
