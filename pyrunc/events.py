"""`events`: a container's statistics and OOM kills as a stream of JSON objects shaped like runc's
({"type": "stats"|"oom", "id": ..., "data": {...}}). --stats prints one and returns; otherwise
stats come every interval, an "oom" event as soon as the kernel reports a kill, and the stream
ends when the container stops."""
import time

from pyrunc.state import STOPPED, ContainerState

OOM_POLL = 0.1  # seconds: the memory cgroup's kill counter is read this often


def stream(container_id, root, interval, once, emit):
    from pyrunc import cgroups
    st = ContainerState(root, container_id).load_existing()  # no lock: stats only read
    cgroup = cgroups.ContainerCgroup(st.data.get("cgroup_paths", {}))
    if once:
        emit(_stats_event(container_id, cgroup))
        return 0
    kills = cgroup.oom_kills()
    next_stats = time.monotonic()
    while True:
        now = time.monotonic()
        if now >= next_stats:
            emit(_stats_event(container_id, cgroup))
            next_stats = now + interval
        seen = cgroup.oom_kills()
        if seen > kills:
            emit({"type": "oom", "id": container_id})
            kills = seen
        st.load()
        if st.status() == STOPPED:
            return 0
        time.sleep(min(OOM_POLL, max(0.0, next_stats - time.monotonic())))


def _stats_event(container_id, cgroup):
    return {"type": "stats", "id": container_id, "data": cgroup.stats()}
