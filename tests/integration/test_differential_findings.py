"""Regression tests for what the differential harness (scripts/differential, runc as the oracle)
found where pyrunc differed and runc was right; each is shown from inside the container."""


def test_repeated_additional_gids_are_given_once(runtime, make_bundle):
    """additionalGids [1000, 1000, 5]: the process is in 5 and 1000, each once (as runc gives
    them; setgroups() keeps duplicates)."""
    def edit(config):
        config["process"]["user"]["additionalGids"] = [1000, 1000, 5]
    bundle = make_bundle(["sh", "-c", "grep ^Groups: /proc/self/status"], edit=edit)
    out = runtime("run", "-b", bundle, "pyrunc-df-groups", check=True).stdout
    assert out.split() == ["Groups:", "5", "1000"]


def test_a_path_both_read_only_and_masked_is_masked_on_top(runtime, make_bundle):
    """runc makes the read-only paths first and masks after: /proc/keys in both lists is a
    read-only proc bind under a /dev/null bind (the top one, which reads empty); /sys/firmware
    a read-only sysfs bind under the read-only tmpfs mask."""
    def edit(config):
        config["linux"]["readonlyPaths"] += ["/proc/keys", "/sys/firmware"]
    script = ("awk '$5 == \"/proc/keys\" || $5 == \"/sys/firmware\" "
              "{ print $5, $4, $(NF - 2) }' /proc/self/mountinfo; wc -c < /proc/keys")
    bundle = make_bundle(["sh", "-c", script], edit=edit)
    lines = runtime("run", "-b", bundle, "pyrunc-df-order", check=True).stdout.splitlines()
    stacks = {}  # mount point -> [(root, fstype)], in mount order (the last one is on top)
    for line in lines[:-1]:
        point, root, fstype = line.split()
        stacks.setdefault(point, []).append((root, fstype))
    assert stacks["/sys/firmware"] == [("/firmware", "sysfs"), ("/", "tmpfs")]
    assert stacks["/proc/keys"][0] == ("/keys", "proc")
    assert stacks["/proc/keys"][1][0] == "/null" and len(stacks["/proc/keys"]) == 2
    assert lines[-1].strip() == "0"  # /dev/null on top


def test_masking_proc_self_fails_at_create(runtime, make_bundle):
    """maskedPaths /proc/self hides /proc/self/fd, through which the init reopens the exec fifo
    when `start` comes: create fails and says so, as runc does, rather than succeed with an init
    that can only die (with a read-write root nothing else in create needs /proc/self/fd)."""
    def edit(config):
        config["root"]["readonly"] = False
        config["linux"]["maskedPaths"].append("/proc/self")
    bundle = make_bundle(["true"], edit=edit)
    result = runtime("create", "-b", bundle, "pyrunc-df-self")
    assert result.returncode == 1
    assert "exec fifo" in result.stderr and len(result.stderr.strip().splitlines()) == 1
    assert runtime.ids() == []


def test_default_devices_without_a_dev_mount(runtime, make_bundle, rootfs_copy):
    """No mount at /dev: the default nodes and symlinks go into the rootfs's own /dev, as runc
    makes them, and the masks (binds of /dev/null) still hide /proc/keys."""
    def edit(config):
        config["root"]["path"] = str(rootfs_copy)  # the nodes land in the rootfs itself
        config["mounts"] = [m for m in config["mounts"] if m["destination"] != "/dev"]
        config["process"]["user"]["uid"] = 1000
    script = ("stat -c '%n %F %a %t,%T' /dev/null /dev/zero /dev/tty; readlink /dev/fd; "
              "wc -c < /proc/keys; echo hidden > /dev/null && echo written")
    bundle = make_bundle(["sh", "-c", script], edit=edit)
    lines = runtime("run", "-b", bundle, "pyrunc-df-nodev", check=True).stdout.splitlines()
    assert lines[:3] == ["/dev/null character special file 666 1,3",
                         "/dev/zero character special file 666 1,5",
                         "/dev/tty character special file 666 5,0"]
    assert lines[3:] == ["/proc/self/fd", "0", "written"]


def test_masks_are_made_after_the_read_only_root(runtime, make_bundle, rootfs_copy):
    """runc makes the root read-only before the read-only and masked paths: without a /dev
    mount the mask of /proc/keys binds the rootfs's own /dev/null, and that bind is read-only
    like the root it comes from."""
    def edit(config):
        config["root"]["path"] = str(rootfs_copy)
        config["mounts"] = [m for m in config["mounts"] if m["destination"] != "/dev"]
    script = "awk '$5 == \"/proc/keys\" { print $4, $6 }' /proc/self/mountinfo"
    bundle = make_bundle(["sh", "-c", script], edit=edit)
    out = runtime("run", "-b", bundle, "pyrunc-df-roorder", check=True).stdout.split()
    assert out[0].endswith("/dev/null") and out[1].split(",")[0] == "ro"


def test_null_user_and_env_are_absent(runtime, make_bundle):
    """"user": null and "env": null are absent properties, as runc reads them: the process runs
    as root with runc's default environment (pyrunc crashed on the None)."""
    def edit(config):
        config["process"]["user"] = None
        config["process"]["env"] = None
    bundle = make_bundle(["/bin/sh", "-c", "id -u; id -G"], edit=edit)
    out = runtime("run", "-b", bundle, "pyrunc-df-null", check=True).stdout.split()
    assert out == ["0", "0"]
