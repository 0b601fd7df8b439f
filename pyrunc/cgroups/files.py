"""Reading and writing one cgroup directory's files, with errors that name the config field.

Controllers never touch the filesystem themselves: they are handed a CgroupDir (or, to check a
config before anything exists, a PlannedDir that answers as a fresh cgroup would)."""
import os

from pyrunc.errors import PyruncError


class CgroupError(PyruncError):
    """The kernel refused a cgroup operation; names the config field when there is one."""

    def __init__(self, field, reason):
        self.field = field
        super().__init__(f"{field}: {reason}" if field else reason)


class CgroupDir:
    """One cgroup directory of one hierarchy; version is 1 or 2."""

    def __init__(self, path, version):
        self.path = path
        self.version = version

    def exists(self, name):
        return os.path.exists(os.path.join(self.path, name))

    def read(self, name):
        """The file's text without the trailing newline; None if it does not exist."""
        try:
            with open(os.path.join(self.path, name)) as f:
                return f.read().rstrip("\n")
        except FileNotFoundError:
            return None

    def read_int(self, name):
        """An integer file; 'max' and a missing file read as None."""
        text = self.read(name)
        if text is None or text.strip() in ("max", ""):
            return None
        return int(text.split()[0])

    def read_keyed(self, name):
        """A flat-keyed file ('key value' lines: memory.stat, cpu.stat, memory.events) as a dict."""
        found = {}
        for line in (self.read(name) or "").splitlines():
            key, _, value = line.partition(" ")
            try:
                found[key] = int(value)
            except ValueError:
                continue
        return found

    def write(self, name, value, field):
        try:
            with open(os.path.join(self.path, name), "w") as f:
                f.write(value)
        except FileNotFoundError:
            raise CgroupError(field, f"this host's kernel has no {name} (cannot set {value!r})") \
                from None
        except OSError as e:
            raise CgroupError(field, f"the kernel refused {value!r} for {name}: {e.strerror}") \
                from None


class PlannedDir:
    """Stands in for a cgroup not made yet, so that a config's values are checked (and their
    writes computed) before anything is created: every file exists and reads as unset."""

    def __init__(self, version, path=None):
        self.path = path  # where it will be (pyrunc explain shows it); nothing is read there
        self.version = version

    def exists(self, name):
        return True

    def read(self, name):
        return None

    def read_int(self, name):
        return None

    def read_keyed(self, name):
        return {}
