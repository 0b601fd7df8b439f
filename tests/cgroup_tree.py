"""Removing a cgroup tree a test (or an engine it drove) made: every directory named `name`
near the top of every hierarchy, with what is under it, deepest first. Used by the engine tests
and the differential harness; it imports nothing of pytest so the harness can run alone."""
import os

CGROUP_ROOT = "/sys/fs/cgroup"


def remove_cgroup_tree(name, depth=3):
    """rmdir /sys/fs/cgroup/<hierarchy>[/...]/name and its subtree, in every hierarchy, looking
    at most `depth` levels below the hierarchies; returns the directories that could not be
    removed (still in use)."""
    left = []
    for top, dirs, _files in os.walk(CGROUP_ROOT):
        if os.path.basename(top) == name:
            for sub, _d, _f in sorted(os.walk(top), key=lambda t: -t[0].count("/")):
                try:
                    os.rmdir(sub)
                except FileNotFoundError:
                    pass
                except OSError:
                    left.append(sub)
            dirs[:] = []
        elif top.count("/") > CGROUP_ROOT.count("/") + depth:
            dirs[:] = []
    return left
