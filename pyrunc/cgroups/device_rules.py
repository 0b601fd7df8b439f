"""The device cgroup's rules: linux.resources.devices checked and normalised, runc's default
allow-list, and a model of what a list of rules means.

The meaning is the v1 devices cgroup's (cgroup-v1/devices.rst), which runc emulates on v2 too,
so that a config grants the same devices on every host:
- the state is a default (allow or deny every device) plus a table of exceptions, one per
  (type, major, minor) with a set of access bits;
- a rule of type 'a' resets the state: the default becomes the rule's allow, the table empties
  (major, minor and access of such a rule do not matter, as for the kernel's "a");
- any other rule either adds its access bits to the exception with exactly its key (an allow
  while the default is deny, a deny while it is allow) or removes them from it;
- while the default is deny, an access is allowed when one exception matches the device
  (a wildcard major or minor matches any) and holds every requested bit; while it is allow,
  an access is denied when a matching exception holds any requested bit.
The kernel only removes bits from the exception with exactly the rule's key, so a deny rule
inside an earlier wildcard allow (deny c 1:3 after allow c *:*) would silently do nothing; that
is refused here, as runc refuses it, rather than leaving the device open. The other way round
(deny c 1:* after allow c 1:3) leaves the narrower allow in place, on v1 as in runc's v2
filter, and is kept for compatibility: the last matching rule does not always decide.

The v1 path writes the model's state to devices.deny/devices.allow (v1_writes); the v2 path
compiles it to an eBPF program (device_filter.py).
"""
from pyrunc.errors import ConfigError

# Access bits as the kernel numbers them (BPF_DEVCG_ACC_* and the v1 cgroup's alike).
ACC_MKNOD, ACC_READ, ACC_WRITE = 1, 2, 4
ACC_ALL = ACC_MKNOD | ACC_READ | ACC_WRITE
_ACCESS_LETTERS = (("r", ACC_READ), ("w", ACC_WRITE), ("m", ACC_MKNOD))
_MAX_NUMBER = 0xFFFFFFFE  # the kernel keeps ~0 (u32) for "any"

FIELD = "linux.resources.devices"


class Rule:
    """One device rule: type 'a', 'b' or 'c'; major and minor None for any; access a mask of
    ACC_* bits. path: the device node a default rule stands for; origin: the config field the
    rule came from, for errors. (A plain class: collections' namedtuple costs the engine
    verbs an import.)"""

    __slots__ = ("allow", "type", "major", "minor", "access", "path", "origin")

    def __init__(self, allow, type, major, minor, access, path=None, origin=None):  # noqa: A002
        self.allow = allow
        self.type = type
        self.major = major
        self.minor = minor
        self.access = access
        self.path = path
        self.origin = origin

    def key(self):
        return (self.type, self.major, self.minor)

    def _fields(self):
        return (self.allow, self.type, self.major, self.minor, self.access, self.path)

    def __eq__(self, other):
        return isinstance(other, Rule) and self._fields() == other._fields()

    def __hash__(self):
        return hash(self._fields())

    def __repr__(self):
        return f"Rule({str(self)!r}, path={self.path!r}, origin={self.origin!r})"

    def __str__(self):
        return f"{'allow' if self.allow else 'deny'} {v1_line(self.key(), self.access)}"


def access_string(bits):
    return "".join(letter for letter, bit in _ACCESS_LETTERS if bits & bit)


def v1_line(key, access):
    """A rule as devices.allow/devices.deny read it: 'c 1:3 rwm', 'b 8:* r', 'a'."""
    kind, major, minor = key
    if kind == "a":
        return "a"
    return f"{kind} {_v1_number(major)}:{_v1_number(minor)} {access_string(access)}"


def _v1_number(n):
    return "*" if n is None else str(n)


def _number(value, where):
    if value is None or value == -1:
        return None
    if isinstance(value, bool) or not isinstance(value, int) or not 0 <= value <= _MAX_NUMBER:
        raise ConfigError(where, f"must be a device number (0 to {_MAX_NUMBER}) or -1 for "
                                 f"any, not {value!r}")
    return value


def _access(value, where):
    if not isinstance(value, str) or not value:
        # runc refuses an empty access too: a rule granting nothing is a mistake
        raise ConfigError(where, f"must be a non-empty combination of 'r', 'w' and 'm', "
                                 f"not {value!r}")
    bits = 0
    letters = dict(_ACCESS_LETTERS)
    for letter in value:
        if letter not in letters:
            raise ConfigError(where, f"must be a combination of 'r', 'w' and 'm', not {value!r}")
        bits |= letters[letter]
    return bits


def parse_rule(raw, where):
    """One linux.resources.devices entry as a Rule; where is its field path."""
    if isinstance(raw, Rule):
        return raw
    if not isinstance(raw, dict):
        raise ConfigError(where, "must be an object")
    allow = raw.get("allow")
    if not isinstance(allow, bool):
        raise ConfigError(f"{where}.allow", f"must be true or false, not {allow!r}")
    kind = raw.get("type") or "a"  # absent means all devices (runtime-spec)
    if kind not in ("a", "b", "c"):
        raise ConfigError(f"{where}.type", f"must be 'a', 'b' or 'c', not {kind!r}")
    return Rule(allow, kind, _number(raw.get("major"), f"{where}.major"),
                _number(raw.get("minor"), f"{where}.minor"),
                _access(raw.get("access"), f"{where}.access"), origin=where)


def parse_rules(raw_rules, where=FIELD):
    if raw_rules is None:
        return []
    if not isinstance(raw_rules, list):
        raise ConfigError(where, "must be an array")
    return [parse_rule(raw, f"{where}[{i}]") for i, raw in enumerate(raw_rules)]


DENY_ALL = Rule(False, "a", None, None, ACC_ALL)

# What runc grants every container after the config's rules (libcontainer/specconv's
# AllowedDevices): mknod of any node, the standard nodes, ptys, /dev/ptmx and /dev/net/tun.
DEFAULT_ALLOWED = (
    Rule(True, "c", None, None, ACC_MKNOD),
    Rule(True, "b", None, None, ACC_MKNOD),
    Rule(True, "c", 1, 3, ACC_ALL, "/dev/null"),
    Rule(True, "c", 1, 8, ACC_ALL, "/dev/random"),
    Rule(True, "c", 1, 7, ACC_ALL, "/dev/full"),
    Rule(True, "c", 5, 0, ACC_ALL, "/dev/tty"),
    Rule(True, "c", 1, 5, ACC_ALL, "/dev/zero"),
    Rule(True, "c", 1, 9, ACC_ALL, "/dev/urandom"),
    Rule(True, "c", 136, None, ACC_ALL),  # /dev/pts/*
    Rule(True, "c", 5, 2, ACC_ALL),  # /dev/ptmx
    Rule(True, "c", 10, 200, ACC_ALL),  # /dev/net/tun
)


def effective_rules(config_devices, linux_devices=()):
    """The rules a container's device cgroup gets, in order: deny every device, then
    linux.resources.devices, then the default allow-list, as runc builds it (the config cannot
    take the defaults away). A default standing for a node that linux.devices lists by path
    is left out (runc lets the config's node take its place). Raises ConfigError naming the
    field of a bad rule."""
    rules = parse_rules(config_devices)
    taken = {dev.get("path") for dev in linux_devices or () if isinstance(dev, dict)}
    defaults = [rule for rule in DEFAULT_ALLOWED if rule.path is None or rule.path not in taken]
    effective = [DENY_ALL, *rules, *defaults]
    DeviceTable(effective)  # a rule the cgroup cannot apply is refused now, not at create
    return effective


class DeviceTable:
    """The state a list of rules leaves a v1 devices cgroup in (see the module docstring),
    starting from "deny every device"."""

    def __init__(self, rules=()):
        self.default_allow = False
        self.exceptions = {}  # (type, major, minor) -> access bits
        for rule in rules:
            self.apply(rule)

    @classmethod
    def from_rules(cls, rules, where=FIELD):
        """Rules as dicts (validated, errors naming where[i]) or Rule objects."""
        return cls(parse_rule(raw, f"{where}[{i}]") for i, raw in enumerate(rules))

    def apply(self, rule):
        if rule.type == "a":
            self.default_allow = rule.allow
            self.exceptions = {}
            return
        key = rule.key()
        if rule.allow != self.default_allow:  # an exception to the default: add the bits
            self.exceptions[key] = self.exceptions.get(key, 0) | rule.access
            return
        self._refuse_hole(rule)
        left = self.exceptions.get(key, 0) & ~rule.access
        if left:
            self.exceptions[key] = left
        else:
            self.exceptions.pop(key, None)

    def _refuse_hole(self, rule):
        kind, major, minor = rule.key()
        for wider in ((kind, None, minor), (kind, major, None), (kind, None, None)):
            bits = self.exceptions.get(wider, 0) & rule.access
            if wider != rule.key() and bits:
                held = Rule(not rule.allow, *wider, self.exceptions[wider])
                who = "" if rule.origin else "runc's default "
                raise ConfigError(rule.origin or FIELD,
                                  f"{who}'{rule}' cannot follow '{held}': the device cgroup "
                                  f"cannot make an exception inside a wildcard rule")

    def allows(self, kind, major, minor, access):
        """The kernel's answer for an access (ACC_* bits) to device kind 'b' or 'c'."""
        for (ex_kind, ex_major, ex_minor), bits in self.exceptions.items():
            if ex_kind != kind or ex_major not in (None, major) or ex_minor not in (None, minor):
                continue
            if self.default_allow and access & bits:
                return False
            if not self.default_allow and not access & ~bits:
                return True
        return self.default_allow

    def ordered_exceptions(self):
        """The exceptions as (key, bits) in the order the rules first named them: the kernel
        lists devices.list in the order it was written, and the spec's rules are ordered
        (the config's own rules come before runc's default allow-list)."""
        return list(self.exceptions.items())


def v1_writes(rules, current=None):
    """What to write, in order, as [(file, line)] with file 'devices.allow' or 'devices.deny',
    to bring a v1 devices cgroup to the state of rules.

    Without current (the rules the cgroup got last time), reset the cgroup with 'a' (denied,
    or allowed when the rules end allowing every device) and write the state's exceptions.
    With it, and the same default on both sides, write only the difference, loosening before
    tightening, so that a running container never meets a moment where a device it keeps is
    denied (runc's update also writes only the difference)."""
    target = rules if isinstance(rules, DeviceTable) else DeviceTable.from_rules(rules)
    source = None
    if current is not None:
        source = current if isinstance(current, DeviceTable) else DeviceTable.from_rules(current)
    # Exceptions are added through the file of the other verdict than the default (an allow
    # while the default is deny) and removed through the default's own.
    default_file, other_file = (("devices.allow", "devices.deny") if target.default_allow
                                else ("devices.deny", "devices.allow"))
    if source is None or source.default_allow != target.default_allow:
        writes = [(default_file, "a")]  # resets the cgroup: default set, exceptions gone
        old = {}
    else:
        writes = []
        old = source.exceptions
    added = [(other_file, v1_line(key, bits & ~old.get(key, 0)))
             for key, bits in target.ordered_exceptions() if bits & ~old.get(key, 0)]
    removed = [(default_file, v1_line(key, bits & ~target.exceptions.get(key, 0)))
               for key, bits in sorted(old.items(), key=_key_order)
               if bits & ~target.exceptions.get(key, 0)]
    # Loosen first: with a deny default, adding (allows) loosens; with an allow default,
    # removing (denies) does.
    if target.default_allow:
        return writes + removed + added
    return writes + added + removed


def _key_order(item):
    kind, major, minor = item[0]
    return (-1 if major is None else major, -1 if minor is None else minor, kind)
