"""linux.resources.rdma as rdma.max lines, the same on v1 and v2."""
from pyrunc.cgroups import values
from pyrunc.errors import ConfigError

NAME = "rdma"
F = "linux.resources.rdma"


def writes(resources, d, updating=False):
    out = []
    for device, limits in values.section(resources, "rdma").items():
        field = f"{F}.{device}"
        if not isinstance(limits, dict) or not device or " " in device:
            raise ConfigError(field, "must map a device name to its limits")
        parts = [device]
        for key, name in (("hcaHandles", "hca_handle"), ("hcaObjects", "hca_object")):
            value = values.integer(limits, key, f"{field}.{key}", 0, 2**31 - 1)
            if value is not None:
                parts.append(f"{name}={value}")
        if len(parts) > 1:
            out.append(("rdma.max", " ".join(parts), field))
    return out
