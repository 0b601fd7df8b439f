"""linux.resources.network: the v1 net_cls (classID) and net_prio (priorities) controllers.
cgroup v2 has neither (its answer is eBPF programs), so a v2 host refuses the fields."""
from pyrunc.cgroups import values
from pyrunc.errors import ConfigError

F = "linux.resources.network"


def _config(resources):
    n = values.section(resources, "network")
    classid = values.integer(n, "classID", F + ".classID", 0, 2**32 - 1)
    priorities = []
    for i, entry in enumerate(values.items(n, "priorities", F + ".priorities")):
        field = f"{F}.priorities[{i}]"
        name = values.string(entry, "name", field + ".name")
        prio = values.integer(entry, "priority", field + ".priority", 0, 2**32 - 1)
        if not name or prio is None or " " in name:
            raise ConfigError(field, "needs an interface name and a priority")
        priorities.append((name, prio, field))
    return classid, priorities


class NetCls:
    NAME = "net_cls"

    @staticmethod
    def writes(resources, d, updating=False):
        classid, _ = _config(resources)
        if classid is None:
            return []
        if d.version == 2:
            raise ConfigError(F + ".classID", "cgroup v2 has no net_cls controller")
        return [("net_cls.classid", str(classid), F + ".classID")]


class NetPrio:
    NAME = "net_prio"

    @staticmethod
    def writes(resources, d, updating=False):
        _, priorities = _config(resources)
        if priorities and d.version == 2:
            raise ConfigError(F + ".priorities", "cgroup v2 has no net_prio controller")
        return [("net_prio.ifpriomap", f"{name} {prio}", field) for name, prio, field in priorities]
