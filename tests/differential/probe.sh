#!/bin/sh
# The differential harness's probe (tests/differential/harness.py copies it to /probe in the
# container's rootfs). It prints what the container's process sees, one `key: value` line per
# item; the harness sorts the lines and normalises what differs from run to run (namespace
# inodes, host paths, mount ids, device numbers of host filesystems).
#
# Everything about the process itself is read by the shell's builtins (read, umask, pwd), in
# this very process: a child would be another execve, which changes the capability sets of a
# non-root user. Other programs are called by absolute path: the config's PATH may be anything.
# The harness writes the lists of paths and sysctls to look at into /probe.d/ (the same for both
# runtimes), so that the masked, read-only and sysctl entries of the config are looked at.

b=/bin/busybox
p() { echo "$1: $2"; }

# /proc/self/status: ids, capability sets, no_new_privs, seccomp.
if [ -r /proc/self/status ]; then
    while read -r key value; do
        case $key in
            Uid:|Gid:|Groups:|CapInh:|CapPrm:|CapEff:|CapBnd:|CapAmb:|NoNewPrivs:|Seccomp:|Seccomp_filters:)
                p "status.${key%:}" "$value" ;;
        esac
    done < /proc/self/status
else
    p status absent
fi

# rlimits: "Max open files  1024  1024  files" -> rlimit.Max_open_files: 1024 1024
if [ -r /proc/self/limits ]; then
    while read -r line; do
        case $line in Limit*) continue ;; esac
        name=${line%%  *}
        rest=${line#"$name"}
        set -- $rest
        p "rlimit.$(echo "$name" | $b tr ' ' _)" "$1 $2"
    done < /proc/self/limits
fi

p umask "$(umask)"
p cwd "$(pwd -P 2>&1)"
p oom_score_adj "$($b cat /proc/self/oom_score_adj 2>&1)"
# The environment as the process got it: from /proc/self/environ, not the shell's variables.
if [ -r /proc/self/environ ]; then
    $b tr '\0' '\n' < /proc/self/environ | while IFS= read -r kv; do p "env ${kv%%=*}" "$kv"; done
fi
p hostname "$($b cat /proc/sys/kernel/hostname 2>&1)"
p domainname "$($b cat /proc/sys/kernel/domainname 2>&1)"
p personality "$($b cat /proc/self/personality 2>&1)"

# Namespaces: the inode, which the harness compares with its own (host or new).
for ns in cgroup ipc mnt net pid pid_for_children time time_for_children user uts; do
    p "ns.$ns" "$($b readlink /proc/self/ns/$ns 2>&1)"
done

# Mounts: everything but the mount id, the parent id and the device number.
if [ -r /proc/self/mountinfo ]; then
    $b awk '{ out = $4 " " $6; sep = 0
              for (i = 7; i <= NF; i++) {
                  if ($i == "-") { sep = i; break }
                  f = $i; sub(/:[0-9]+$/, "", f); out = out " " f   # shared:N -> shared
              }
              out = out " - " $(sep + 1) " " $(sep + 2) " " $(sep + 3)
              print "mount " $5 ": " out }' /proc/self/mountinfo
fi

# /dev: names, types, modes, owners and device numbers (not times or sizes).
for f in /dev/* /dev/*/* /dev/.[!.]*; do
    [ -e "$f" ] || [ -L "$f" ] || continue
    # Not through a symlink (/dev/fd is /proc/self/fd: the harness's own stdio).
    [ -L "${f%/*}" ] && continue
    if [ -L "$f" ]; then
        p "dev $f" "symlink -> $($b readlink "$f")"
    else
        p "dev $f" "$($b stat -c '%F %a %u:%g %t,%T' "$f" 2>&1)"
    fi
done

# Masked and read-only paths: what is there and whether it can be read (never written: that would
# reach the host's kernel settings through /proc/sys; mountinfo shows the read-only flag).
look() {
    if [ ! -e "$1" ] && [ ! -L "$1" ]; then p "path $1" absent; return; fi
    kind=$($b stat -c '%F %a' "$1" 2>&1)
    if [ -d "$1" ]; then
        entries=$($b ls -A "$1" 2>/dev/null | $b wc -l)
        p "path $1" "$kind entries=$entries"
    else
        if $b head -c 1 "$1" >/dev/null 2>&1; then r=readable; else r=unreadable; fi
        # Empty or not: the content of a readable /proc file is the host's and changes.
        if [ -n "$($b head -c 1 "$1" 2>/dev/null | $b od -An -c)" ]; then c=content; else c=empty; fi
        p "path $1" "$kind $r $c"
    fi
}
if [ -r /probe.d/paths ]; then
    while IFS= read -r path; do look "$path"; done < /probe.d/paths
fi

# sysctls the config sets, and a few namespaced ones it may change.
if [ -r /probe.d/sysctls ]; then
    while IFS= read -r key; do
        p "sysctl $key" "$($b cat "/proc/sys/$(echo "$key" | $b tr . /)" 2>&1)"
    done < /probe.d/sysctls
fi

# cgroups: the container's own (its cgroup namespace shows it as /) and the values of the files
# a config's resources change, where /sys/fs/cgroup shows them.
if [ -r /proc/self/cgroup ]; then
    while IFS= read -r line; do p "cgroup ${line%:*}" "${line##*:}"; done < /proc/self/cgroup
fi
if [ -r /probe.d/cgroup-files ]; then
    while IFS= read -r f; do
        [ -e "/sys/fs/cgroup/$f" ] || continue
        p "cgroupfile $f" "$($b cat "/sys/fs/cgroup/$f" 2>&1 | $b tr '\n' ' ')"
    done < /probe.d/cgroup-files
fi
echo "probe: done"
# The harness reads the state while the process runs, then lets it go.
[ -p /probe.d/go ] && read -r _ < /probe.d/go
exit 0
