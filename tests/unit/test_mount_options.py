"""The recursive mount options and idmap/ridmap as mountopts reads them (mount_setattr's
attr_set and attr_clr, the later option winning), which option of a mount is refused and why,
and which mounts idmap.plan makes id-mapped with which mapping. Pure logic, no root."""
import pytest

from pyrunc import idmap, mountopts
from pyrunc.mountopts import (MOUNT_ATTR__ATIME, MOUNT_ATTR_NOATIME, MOUNT_ATTR_NODEV,
                              MOUNT_ATTR_NOSUID, MOUNT_ATTR_NOSYMFOLLOW, MOUNT_ATTR_RDONLY,
                              MOUNT_ATTR_RELATIME, MOUNT_ATTR_STRICTATIME, parse_options,
                              refusal)


@pytest.mark.parametrize("options, attr_set, attr_clr", [
    (["rro", "rnosuid"], MOUNT_ATTR_RDONLY | MOUNT_ATTR_NOSUID, 0),
    (["rro", "rrw"], 0, MOUNT_ATTR_RDONLY),                  # the later one wins
    (["rrw", "rro"], MOUNT_ATTR_RDONLY, 0),
    (["rnodev", "rsymfollow"], MOUNT_ATTR_NODEV, MOUNT_ATTR_NOSYMFOLLOW),
    (["rnoatime"], MOUNT_ATTR_NOATIME, MOUNT_ATTR__ATIME),   # atime is one setting
    (["rnoatime", "rstrictatime"], MOUNT_ATTR_STRICTATIME, MOUNT_ATTR__ATIME),
    (["rnoatime", "ratime"], MOUNT_ATTR_RELATIME, MOUNT_ATTR__ATIME),
    (["rstrictatime", "rnostrictatime"], MOUNT_ATTR_RELATIME, MOUNT_ATTR__ATIME),
    (["rnorelatime"], MOUNT_ATTR_STRICTATIME, MOUNT_ATTR__ATIME),
    (["rrelatime", "rnosuid"], MOUNT_ATTR_NOSUID, MOUNT_ATTR__ATIME),
])
def test_recursive_options_as_attributes(options, attr_set, attr_clr):
    opts = parse_options(["rbind", *options])
    assert (opts.attr_set, opts.attr_clr) == (attr_set, attr_clr)
    assert opts.recursive and opts.data == ""  # none goes to the filesystem any more


def test_every_documented_recursive_option_is_known():
    runc_12 = {"rro", "rrw", "rnosuid", "rsuid", "rnodev", "rdev", "rnoexec", "rexec",
               "rnoatime", "ratime", "rrelatime", "rnorelatime", "rstrictatime",
               "rnostrictatime", "rnodiratime", "rdiratime", "rnosymfollow", "rsymfollow"}
    assert set(mountopts.RECURSIVE) == runc_12
    for attr_set, attr_clr in mountopts.RECURSIVE.values():
        # the kernel takes an atime value only with the whole atime field cleared
        assert not attr_set & MOUNT_ATTR__ATIME or attr_clr & MOUNT_ATTR__ATIME == \
            MOUNT_ATTR__ATIME


def test_plain_options_are_not_recursive():
    opts = parse_options(["rbind", "ro", "nosuid", "idmap"])
    assert not opts.recursive and opts.idmap == "idmap"
    assert parse_options(["bind", "idmap", "ridmap"]).idmap == "ridmap"


@pytest.mark.parametrize("options, kind, is_bind, refused", [
    (["rbind", "ro", "rro", "rprivate", "defaults", "idmap"], "bind", True, None),
    (["nosuid", "mode=755", "size=1k", "sync", "tmpcopyup"], "tmpfs", False, None),
    (["rbind", "sync"], "bind", True, "sync"),
    (["bind", "async"], "bind", True, "async"),
    (["bind", "dirsync"], "bind", True, "dirsync"),
    (["bind", "mand"], "bind", True, "mand"),
    (["bind", "nolazytime"], "bind", True, "nolazytime"),
    (["bind", "remount"], "bind", True, "remount"),
    (["rbind", "mode=755", "size=1k"], "bind", True, "mode=755"),
    (["rbind", "tmpcopyup"], "bind", True, "tmpcopyup"),
    (["idmap"], "proc", False, "idmap"),
    (["ridmap"], "devpts", False, "ridmap"),
    (["idmap", "ridmap"], "bind", True, "ridmap"),
    (["idmap", "tmpcopyup"], "tmpfs", False, "tmpcopyup"),
])
def test_refusal_names_the_option(options, kind, is_bind, refused):
    found = refusal(options, kind, is_bind)
    assert (found[0] if found else None) == refused
    if found:
        assert len(found[1]) > 20 and "\n" not in found[1]


MAP = [{"containerID": 0, "hostID": 1000, "size": 1}]
USERNS = [{"containerID": 0, "hostID": 100000, "size": 65536}]


def _config(mounts, namespaces=(), linux_maps=None):
    linux = {"namespaces": list(namespaces)}
    if linux_maps:
        linux.update(uidMappings=linux_maps, gidMappings=linux_maps)
    return {"mounts": mounts, "linux": linux}


def test_plan_takes_the_mounts_own_mappings_first():
    config = _config([
        {"destination": "/proc", "type": "proc", "source": "proc"},
        {"destination": "/a", "type": "bind", "source": "/x", "options": ["rbind", "ridmap"],
         "uidMappings": MAP, "gidMappings": MAP},
        {"destination": "/b", "type": "bind", "source": "/x", "options": ["bind"],
         "uidMappings": MAP, "gidMappings": MAP},
        {"destination": "/c", "type": "tmpfs", "source": "tmpfs", "options": ["idmap"]},
    ], [{"type": "user"}], USERNS)
    planned = idmap.plan(config)
    assert [(p.index, p.kind, p.recursive, p.option) for p in planned] == [
        (1, "bind", True, "ridmap"), (2, "bind", False, "uidMappings"),
        (3, "tmpfs", False, "idmap")]
    assert planned[0].uid_maps == MAP and planned[2].uid_maps == USERNS
    assert planned[0].key() == planned[1].key() != planned[2].key()  # one namespace for both


def test_plan_uses_a_joined_user_namespace_by_path():
    config = _config([{"destination": "/a", "type": "bind", "source": "/x",
                       "options": ["bind", "idmap"]}],
                     [{"type": "user", "path": "/proc/1/ns/user"}])
    (only,) = idmap.plan(config)
    assert only.userns_path == "/proc/1/ns/user" and only.uid_maps is None
    assert only.key() == ("path", "/proc/1/ns/user")


def test_plan_of_a_config_without_idmapped_mounts_is_empty():
    assert idmap.plan(_config([{"destination": "/a", "type": "bind", "source": "/x",
                                "options": ["rbind", "rro"]}])) == []
