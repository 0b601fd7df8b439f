"""Block I/O: linux.resources.blockIO on v1 (blkio.*, the BFQ files when the kernel has no CFQ)
and on v2 (io.bfq.weight or io.weight, io.max), and the blkio part of `events --stats`."""
from pyrunc.cgroups import values
from pyrunc.cgroups.files import CgroupError
from pyrunc.errors import ConfigError

NAME = "blkio"   # v1 subsystem
V2_NAME = "io"   # v2 controller
F = "linux.resources.blockIO"
THROTTLES = (("throttleReadBpsDevice", "read_bps_device", "rbps"),
             ("throttleWriteBpsDevice", "write_bps_device", "wbps"),
             ("throttleReadIOPSDevice", "read_iops_device", "riops"),
             ("throttleWriteIOPSDevice", "write_iops_device", "wiops"))


def weight_to_io_weight(weight):
    """blkio.weight (10..1000) onto io.weight (1..10000), runc's linear map."""
    return 1 + (weight - 10) * 9999 // 990


def _device(entry, field):
    major = values.integer(entry, "major", field + ".major", 0)
    minor = values.integer(entry, "minor", field + ".minor", 0)
    if major is None or minor is None:
        raise ConfigError(field, "needs major and minor")
    return f"{major}:{minor}"


def writes(resources, d, updating=False):
    b = values.section(resources, "blockIO")
    weight = values.integer(b, "weight", F + ".weight", 10, 1000, zero_unset=True)
    leaf = values.integer(b, "leafWeight", F + ".leafWeight", 10, 1000, zero_unset=True)
    devices = []
    for i, entry in enumerate(values.items(b, "weightDevice", F + ".weightDevice")):
        field = f"{F}.weightDevice[{i}]"
        devices.append((_device(entry, field), field,
                        values.integer(entry, "weight", field + ".weight", 10, 1000,
                                       zero_unset=True),
                        values.integer(entry, "leafWeight", field + ".leafWeight", 10, 1000,
                                       zero_unset=True)))
    throttles = []
    for key, v1_name, v2_key in THROTTLES:
        for i, entry in enumerate(values.items(b, key, f"{F}.{key}")):
            field = f"{F}.{key}[{i}]"
            rate = values.integer(entry, "rate", field + ".rate", 0)
            if rate is None:
                raise ConfigError(field, "needs a rate")
            throttles.append((_device(entry, field), field, v1_name, v2_key, rate))
    if d.version == 1:
        return _v1(weight, leaf, devices, throttles, d)
    return _v2(weight, leaf, devices, throttles, d)


def _weight_file(d, names, weight, devices):
    """The first of names the cgroup has, when the config sets a weight at all. Weights need an
    I/O scheduler that has them (BFQ; CFQ before Linux 5.0): without one the kernel offers no
    weight file, and a write would only say EACCES (cgroupfs cannot create files)."""
    if weight is None and all(w is None for _dev, _field, w, _lw in devices):
        return names[0]
    for name in names:
        if d.exists(name):
            return name
    field = F + ".weight" if weight is not None else next(
        f + ".weight" for _dev, f, w, _lw in devices if w is not None)
    raise CgroupError(field, f"this host's kernel has no {' or '.join(names)} (no I/O scheduler "
                      "with weights, such as BFQ, on its disks): no block I/O weight can be set")


def _v1(weight, leaf, devices, throttles, d):
    out = []
    # Kernels since 5.0 have no CFQ, so blkio.weight is gone; BFQ's files take the same values.
    weight_file = _weight_file(d, ("blkio.weight", "blkio.bfq.weight"), weight, devices)
    if weight is not None:
        out.append((weight_file, str(weight), F + ".weight"))
    if leaf is not None:
        out.append(("blkio.leaf_weight", str(leaf), F + ".leafWeight"))
    for dev, field, w, lw in devices:
        if w is not None:
            out.append((weight_file + "_device", f"{dev} {w}", field + ".weight"))
        if lw is not None:
            out.append(("blkio.leaf_weight_device", f"{dev} {lw}", field + ".leafWeight"))
    for dev, field, v1_name, _v2, rate in throttles:
        out.append(("blkio.throttle." + v1_name, f"{dev} {rate}", field))
    return out


def _v2(weight, leaf, devices, throttles, d):
    out = []
    if leaf is not None or any(lw is not None for *_, lw in devices):
        raise ConfigError(F + ".leafWeight", "cgroup v2 has no leaf weights")
    bfq = _weight_file(d, ("io.bfq.weight", "io.weight"), weight, devices) == "io.bfq.weight"
    if weight is not None:
        out.append(("io.bfq.weight", str(weight), F + ".weight") if bfq else
                   ("io.weight", f"default {weight_to_io_weight(weight)}", F + ".weight"))
    for dev, field, w, _lw in devices:
        if w is not None:
            out.append(("io.bfq.weight", f"{dev} {w}", field + ".weight") if bfq else
                       ("io.weight", f"{dev} {weight_to_io_weight(w)}", field + ".weight"))
    for dev, field, _v1, v2_key, rate in throttles:
        out.append(("io.max", f"{dev} {v2_key}={rate if rate else 'max'}", field))
    return out


def stats(d):
    if d.version == 1:
        entries = {}
        for key, name in (("ioServiceBytesRecursive", "blkio.throttle.io_service_bytes_recursive"),
                          ("ioServicedRecursive", "blkio.throttle.io_serviced_recursive")):
            entries[key] = _v1_entries(d.read(name) or "")
        return entries
    service_bytes, serviced = [], []
    for line in (d.read("io.stat") or "").splitlines():
        dev, *fields = line.split()
        major, minor = (int(x) for x in dev.split(":"))
        kv = dict(f.split("=", 1) for f in fields)
        for op, bytes_key, ios_key in (("Read", "rbytes", "rios"), ("Write", "wbytes", "wios")):
            service_bytes.append({"major": major, "minor": minor, "op": op,
                                  "value": int(kv.get(bytes_key, 0))})
            serviced.append({"major": major, "minor": minor, "op": op,
                             "value": int(kv.get(ios_key, 0))})
    return {"ioServiceBytesRecursive": service_bytes, "ioServicedRecursive": serviced}


def _v1_entries(text):
    out = []
    for line in text.splitlines():
        parts = line.split()
        if len(parts) != 3:
            continue
        major, minor = (int(x) for x in parts[0].split(":"))
        out.append({"major": major, "minor": minor, "op": parts[1], "value": int(parts[2])})
    return out
