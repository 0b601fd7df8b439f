"""Capabilities of the container's process: the five sets of config.process.capabilities.

Order matters: the bounding set is dropped while we still hold CAP_SETPCAP, the uid changes
with keep-caps on, then capset() sets effective/permitted/inheritable, then ambient caps are
raised (they must already be permitted and inheritable).
"""
import sys

from pyrunc import names

# The prctl calls are made through native/ rather than python-prctl: importing python-prctl
# costs ~3 ms in every container start, and it cannot raise ambient capabilities anyway.
PR_SET_KEEPCAPS = 8
PR_CAPBSET_DROP = 24
PR_SET_NO_NEW_PRIVS = 38
PR_CAP_AMBIENT = 47
PR_CAP_AMBIENT_RAISE = 2
PR_CAP_AMBIENT_CLEAR_ALL = 4


def to_mask(cap_names, warn=None):
    """Names -> bit mask. Capabilities this kernel lacks are warned about and skipped, as
    runc does (names no Linux has were refused with the config)."""
    last = names.cap_last_cap()
    mask = 0
    for name in cap_names:
        number = names.CAP_NUMBERS.get(name)
        if number is None or number > last:
            if warn:
                warn(f"capability {name} is not known to this kernel: ignored")
            continue
        mask |= 1 << number
    return mask


def own_bounding_set():
    with open("/proc/self/status") as f:
        for line in f:
            if line.startswith("CapBnd:"):
                return int(line.split()[1], 16)
    return 0


class CapabilityPlan:
    """The five masks for one process."""

    __slots__ = ("bounding", "effective", "permitted", "inheritable", "ambient")

    def __init__(self, caps, warn=None):
        for key in names.CAP_SETS:
            setattr(self, key, to_mask(caps.get(key) or [], warn))

    def missing_from(self, available):
        """Names of requested capabilities that `available` (a mask) does not hold."""
        wanted = self.bounding | self.effective | self.permitted | self.inheritable | self.ambient
        return [names.CAPABILITIES[i] for i in range(len(names.CAPABILITIES))
                if wanted & (1 << i) and not available & (1 << i)]

    def drop_bounding(self, k):
        """Through the init path's kernel k (kernel.py), as apply_sets."""
        for number in range(names.cap_last_cap() + 1):
            if not self.bounding & (1 << number):
                k.prctl(PR_CAPBSET_DROP, number)

    def apply_sets(self, k):
        k.capset(self.effective, self.permitted, self.inheritable)
        k.prctl(PR_CAP_AMBIENT, PR_CAP_AMBIENT_CLEAR_ALL)
        for number in range(names.cap_last_cap() + 1):
            if not self.ambient & (1 << number):
                continue
            if not self.permitted & self.inheritable & (1 << number):
                # The kernel only raises an ambient cap that is permitted and inheritable;
                # runc warns and goes on (runc spec's default lists ambient, not inheritable).
                from pyrunc import log
                log.debug(f"ambient capability {names.CAPABILITIES[number]} is not "
                            "permitted and inheritable: not raised")
                continue
            k.prctl(PR_CAP_AMBIENT, PR_CAP_AMBIENT_RAISE, number)


def warn_to_stderr(message):
    sys.stderr.write(f"pyrunc: warning: {message}\n")
