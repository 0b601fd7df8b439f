"""podman's resource options and cgroup commands with pyrunc as the runtime: --memory,
--pids-limit and --cpus reach the container's cgroup files; pause/unpause, stats and top work."""
import uuid

import pytest

import cgutil
from test_podman import image, ok, podman  # noqa: F401 - image is a fixture

pytestmark = [pytest.mark.engine, pytest.mark.podman, pytest.mark.cgroup]


def test_podman_limits_reach_the_cgroup(image):  # noqa: F811
    if cgutil.is_v2():
        script = "cat /sys/fs/cgroup/memory.max /sys/fs/cgroup/pids.max /sys/fs/cgroup/cpu.max"
        expected = ["67108864", "50", "50000", "100000"]
    else:
        script = ("cat /sys/fs/cgroup/memory/memory.limit_in_bytes /sys/fs/cgroup/pids/pids.max "
                  "/sys/fs/cgroup/cpu/cpu.cfs_quota_us /sys/fs/cgroup/cpu/cpu.cfs_period_us")
        expected = ["67108864", "50", "50000", "100000"]
    out = ok(podman("run", "--rm", "--network", "none", "--memory", "64m", "--pids-limit", "50",
                    "--cpus", "0.5", image, "sh", "-c", script)).stdout
    assert out.split() == expected


def test_podman_pause_stats_top(image):  # noqa: F811
    name = f"pyrunc-pc-{uuid.uuid4().hex[:6]}"
    ok(podman("run", "-d", "--name", name, "--network", "none", "--memory", "32m", image,
              "sleep", "100"))
    try:
        ok(podman("pause", name))
        assert ok(podman("inspect", "--format", "{{.State.Status}}", name)).stdout.strip() \
            == "paused"
        ok(podman("unpause", name))
        assert ok(podman("inspect", "--format", "{{.State.Status}}", name)).stdout.strip() \
            == "running"
        stats = ok(podman("stats", "--no-stream", "--format",
                          "{{.MemUsage}}|{{.PIDs}}", name)).stdout.strip()
        usage, pids = stats.split("|")
        assert pids == "1" and usage.endswith("33.55MB"), stats  # the limit: 32 MiB
        top = ok(podman("top", name)).stdout
        assert "sleep 100" in top
    finally:
        podman("rm", "-f", "-t", "0", name)
