"""What the benchmark scripts under scripts/ share: the bundle they run (`runc spec`'s default
config, so that every runtime gets the same runc-shaped one, over a given rootfs, no terminal)
and the removal of their work directory. Imported by those scripts from their own directory;
not part of the pyrunc package."""
import json
import math
import os
import shutil
import subprocess
import sys

RUNC = shutil.which("runc") or "/usr/sbin/runc"


def make_bundle(path: str, rootfs: str, args: list[str], edit=None) -> str:
    """Write the bundle at path (a new directory); edit(config) may change the config before
    it is written. Returns path."""
    os.mkdir(path)
    subprocess.run([RUNC, "spec"], cwd=path, check=True)
    config_path = os.path.join(path, "config.json")
    with open(config_path) as f:
        config = json.load(f)
    config["process"]["args"] = list(args)
    config["process"]["terminal"] = False
    config["root"]["path"] = rootfs
    if edit is not None:
        edit(config)
    with open(config_path, "w") as f:
        json.dump(config, f, indent=2)
    return path


def remove_workdir(path: str) -> None:
    """rm -rf, unless a failed run left something mounted in there."""
    with open("/proc/self/mountinfo") as f:
        mounted = [line.split()[4] for line in f if line.split()[4].startswith(path + "/")]
    if mounted:
        print(f"{os.path.basename(sys.argv[0])}: not removing {path}, still mounted: "
              f"{' '.join(mounted)}", file=sys.stderr)
    else:
        shutil.rmtree(path, ignore_errors=True)


def p90(samples: list[float]) -> float:
    """The 90th percentile (nearest rank)."""
    ordered = sorted(samples)
    return ordered[math.ceil(0.9 * len(ordered)) - 1]
