"""Pressure stall information (cpu.pressure, memory.pressure, io.pressure of a cgroup v2
directory) in the shape runc 1.2's `events --stats` gives it: {"some": {"avg10", "avg60",
"avg300", "total"}, "full": {...}} under the cpu, memory and blkio stats."""

# The controller's key in the stats, its v1 and v2 names, and its pressure file.
FILES = (("cpu", "cpu", "cpu", "cpu.pressure"), ("memory", "memory", "memory", "memory.pressure"),
         ("blkio", "blkio", "io", "io.pressure"))


def parse(text):
    """A pressure file's lines ('some avg10=0.00 avg60=0.00 avg300=0.00 total=0') as a dict;
    a line or value the kernel may add later is skipped rather than fatal."""
    found = {}
    for line in (text or "").splitlines():
        kind, *pairs = line.split()
        if kind not in ("some", "full"):
            continue
        entry = {}
        for pair in pairs:
            name, _, value = pair.partition("=")
            try:
                entry[name] = int(value) if name == "total" else float(value)
            except ValueError:
                continue
        if entry:
            found[kind] = entry
    return found


def read(d, name):
    """The parsed pressure file of a v2 directory; None where there is none (v1, a kernel
    without CONFIG_PSI or booted with psi=0)."""
    if d.version != 2:
        return None
    try:
        return parse(d.read(name)) or None
    except OSError:  # EOPNOTSUPP: PSI compiled in but disabled
        return None
