/* pyrunc's syscall layer: thin wrappers for calls glibc does not wrap (or wraps only in newer
 * versions). Every function returns -1 and leaves errno set on failure, as the kernel does;
 * Python's facade (pyrunc/native.py) turns that into OSError. No policy here. */
#ifndef _GNU_SOURCE
#define _GNU_SOURCE
#endif
#include <errno.h>
#include <fcntl.h>
#include <sched.h>
#include <stdint.h>
#include <string.h>
#include <sys/mount.h>
#include <sys/prctl.h>
#include <sys/syscall.h>
#include <sys/vfs.h>
#include <unistd.h>
#include <linux/bpf.h>
#include <linux/capability.h>
#include <seccomp.h>

#ifndef SYS_openat2
#define SYS_openat2 437
#endif
#ifndef SYS_close_range
#define SYS_close_range 436
#endif
#ifndef SYS_mount_setattr
#define SYS_mount_setattr 442
#endif
#ifndef SYS_open_tree
#define SYS_open_tree 428
#endif
#ifndef SYS_move_mount
#define SYS_move_mount 429
#endif
#ifndef SYS_fsopen
#define SYS_fsopen 430
#endif
#ifndef SYS_fsconfig
#define SYS_fsconfig 431
#endif
#ifndef SYS_fsmount
#define SYS_fsmount 432
#endif

/* struct open_how and struct mount_attr, spelled out so that old kernel headers still build. */
struct pr_open_how {
    uint64_t flags;
    uint64_t mode;
    uint64_t resolve;
};

struct pr_mount_attr {
    uint64_t attr_set;
    uint64_t attr_clr;
    uint64_t propagation;
    uint64_t userns_fd;
};

int pr_pivot_root(const char *new_root, const char *put_old)
{
    return (int)syscall(SYS_pivot_root, new_root, put_old);
}

int pr_openat2(int dirfd, const char *path, unsigned long long flags,
               unsigned long long mode, unsigned long long resolve)
{
    struct pr_open_how how = {.flags = flags, .mode = mode, .resolve = resolve};
    return (int)syscall(SYS_openat2, dirfd, path, &how, sizeof(how));
}

int pr_close_range(unsigned int first, unsigned int last, unsigned int flags)
{
    return (int)syscall(SYS_close_range, first, last, flags);
}

int pr_mount_setattr(int dirfd, const char *path, unsigned int flags,
                     unsigned long long attr_set, unsigned long long attr_clr,
                     unsigned long long propagation, int recursive, int userns_fd)
{
    /* userns_fd: the user namespace of MOUNT_ATTR_IDMAP (ignored by the kernel without it) */
    struct pr_mount_attr attr = {
        .attr_set = attr_set, .attr_clr = attr_clr, .propagation = propagation,
        .userns_fd = (uint64_t)(userns_fd < 0 ? 0 : userns_fd)};
    /* AT_RECURSIVE is 0x8000 */
    if (recursive)
        flags |= 0x8000;
    return (int)syscall(SYS_mount_setattr, dirfd, path, flags, &attr, sizeof(attr));
}

int pr_open_tree(int dirfd, const char *path, unsigned int flags)
{
    return (int)syscall(SYS_open_tree, dirfd, path, flags);
}

int pr_move_mount(int from_dirfd, const char *from_path, int to_dirfd,
                  const char *to_path, unsigned int flags)
{
    return (int)syscall(SYS_move_mount, from_dirfd, from_path, to_dirfd, to_path, flags);
}

int pr_fsopen(const char *fsname, unsigned int flags)
{
    return (int)syscall(SYS_fsopen, fsname, flags);
}

int pr_fsconfig(int fd, unsigned int cmd, const char *key, const void *value, int aux)
{
    return (int)syscall(SYS_fsconfig, fd, cmd, key, value, aux);
}

int pr_fsmount(int fd, unsigned int flags, unsigned int attr_flags)
{
    return (int)syscall(SYS_fsmount, fd, flags, attr_flags);
}

/* The filesystem type of an open fd (statfs's f_type: PROC_SUPER_MAGIC, SYSFS_MAGIC...),
 * which os.fstatvfs does not give. */
long pr_fstatfs_type(int fd)
{
    struct statfs st;
    if (fstatfs(fd, &st) < 0)
        return -1;
    return (long)st.f_type;
}

int pr_ioprio_set(int ioprio)
{
    /* IOPRIO_WHO_PROCESS, 0: ourselves */
    return (int)syscall(SYS_ioprio_set, 1, 0, ioprio);
}

/* struct sched_attr of sched_setattr(2), spelled out: glibc 2.36 has no wrapper. */
struct pr_sched_attr {
    uint32_t size;
    uint32_t sched_policy;
    uint64_t sched_flags;
    int32_t sched_nice;
    uint32_t sched_priority;
    uint64_t sched_runtime;
    uint64_t sched_deadline;
    uint64_t sched_period;
};

int pr_sched_setattr(unsigned int policy, unsigned long long flags, int nice,
                     unsigned int priority, unsigned long long runtime,
                     unsigned long long deadline, unsigned long long period)
{
    struct pr_sched_attr attr = {
        .size = sizeof(attr), .sched_policy = policy, .sched_flags = flags,
        .sched_nice = nice, .sched_priority = priority, .sched_runtime = runtime,
        .sched_deadline = deadline, .sched_period = period};
    return (int)syscall(SYS_sched_setattr, 0, &attr, 0);
}

int pr_personality(unsigned long persona)
{
    return (int)syscall(SYS_personality, persona);
}

/* NUMA memory policy of the calling thread (and what it forks and execs): linux.memoryPolicy.
 * glibc has no wrapper (libnuma has one); nodemask holds maxnode bits, as the kernel reads it. */
int pr_set_mempolicy(int mode, const unsigned long *nodemask, unsigned long maxnode)
{
    return (int)syscall(SYS_set_mempolicy, mode, nodemask, maxnode);
}

/* Capabilities are set with the raw v3 ABI: two 32-bit words per set. */
int pr_capset(unsigned int effective[2], unsigned int permitted[2], unsigned int inheritable[2])
{
    struct __user_cap_header_struct header = {.version = _LINUX_CAPABILITY_VERSION_3, .pid = 0};
    struct __user_cap_data_struct data[2];
    for (int i = 0; i < 2; i++) {
        data[i].effective = effective[i];
        data[i].permitted = permitted[i];
        data[i].inheritable = inheritable[i];
    }
    return (int)syscall(SYS_capset, &header, data);
}

int pr_capget(unsigned int effective[2], unsigned int permitted[2], unsigned int inheritable[2])
{
    struct __user_cap_header_struct header = {.version = _LINUX_CAPABILITY_VERSION_3, .pid = 0};
    struct __user_cap_data_struct data[2];
    if (syscall(SYS_capget, &header, data) < 0)
        return -1;
    for (int i = 0; i < 2; i++) {
        effective[i] = data[i].effective;
        permitted[i] = data[i].permitted;
        inheritable[i] = data[i].inheritable;
    }
    return 0;
}

/* KEYCTL_JOIN_SESSION_KEYRING: a fresh session keyring, so containers do not share the host's. */
long pr_keyctl_join_session(const char *name)
{
    return syscall(SYS_keyctl, 1, name);
}

/* bpf(2). union bpf_attr is zeroed first: the kernel refuses any byte it does not know that is
 * not zero, so only the fields of the command are filled. Program fds come back O_CLOEXEC. */
static int pr_bpf(int cmd, union bpf_attr *attr)
{
    return (int)syscall(SYS_bpf, cmd, attr, sizeof(*attr));
}

int pr_bpf_prog_load(unsigned int prog_type, const void *insns, unsigned int insn_cnt,
                     const char *license, const char *name, unsigned int log_level,
                     char *log_buf, unsigned int log_size)
{
    union bpf_attr attr;
    memset(&attr, 0, sizeof(attr));
    attr.prog_type = prog_type;
    attr.insns = (uint64_t)(uintptr_t)insns;
    attr.insn_cnt = insn_cnt;
    attr.license = (uint64_t)(uintptr_t)license;
    attr.log_level = log_level;
    attr.log_buf = (uint64_t)(uintptr_t)log_buf;
    attr.log_size = log_size;
    if (name)
        strncpy(attr.prog_name, name, sizeof(attr.prog_name) - 1);
    return pr_bpf(BPF_PROG_LOAD, &attr);
}

int pr_bpf_prog_attach(int target_fd, int prog_fd, unsigned int attach_type, unsigned int flags)
{
    union bpf_attr attr;
    memset(&attr, 0, sizeof(attr));
    attr.target_fd = target_fd;
    attr.attach_bpf_fd = prog_fd;
    attr.attach_type = attach_type;
    attr.attach_flags = flags;
    return pr_bpf(BPF_PROG_ATTACH, &attr);
}

int pr_bpf_prog_detach(int target_fd, int prog_fd, unsigned int attach_type)
{
    union bpf_attr attr;
    memset(&attr, 0, sizeof(attr));
    attr.target_fd = target_fd;
    attr.attach_bpf_fd = prog_fd;
    attr.attach_type = attach_type;
    return pr_bpf(BPF_PROG_DETACH, &attr);
}

/* *prog_cnt: the room in prog_ids on entry, the number attached on return (the kernel fills
 * it in and fails with ENOSPC when the room was too small). */
int pr_bpf_prog_query(int target_fd, unsigned int attach_type, unsigned int *prog_ids,
                      unsigned int *prog_cnt, unsigned int *attach_flags)
{
    union bpf_attr attr;
    memset(&attr, 0, sizeof(attr));
    attr.query.target_fd = target_fd;
    attr.query.attach_type = attach_type;
    attr.query.prog_ids = (uint64_t)(uintptr_t)prog_ids;
    attr.query.prog_cnt = *prog_cnt;
    int rc = pr_bpf(BPF_PROG_QUERY, &attr);
    *prog_cnt = attr.query.prog_cnt;
    *attach_flags = attr.query.attach_flags;
    return rc;
}

int pr_bpf_prog_get_fd_by_id(unsigned int prog_id)
{
    union bpf_attr attr;
    memset(&attr, 0, sizeof(attr));
    attr.prog_id = prog_id;
    return pr_bpf(BPF_PROG_GET_FD_BY_ID, &attr);
}

/* libseccomp returns negative errno values; convert them to the -1/errno convention. */
static int seccomp_result(int rc)
{
    if (rc < 0) {
        errno = -rc;
        return -1;
    }
    return rc;
}

void *pr_seccomp_init(unsigned int def_action)
{
    return seccomp_init(def_action);
}

int pr_seccomp_arch_add(void *ctx, const char *arch_name)
{
    uint32_t arch = seccomp_arch_resolve_name(arch_name);
    if (arch == 0) {
        errno = EINVAL;
        return -1;
    }
    int rc = seccomp_arch_add(ctx, arch);
    if (rc == -EEXIST)
        return 0;
    return seccomp_result(rc);
}

int pr_seccomp_set_flag(void *ctx, int attr, unsigned int value)
{
    return seccomp_result(seccomp_attr_set(ctx, (enum scmp_filter_attr)attr, value));
}

int pr_seccomp_rule_add(void *ctx, unsigned int action, const char *syscall_name,
                        unsigned int arg_count, const unsigned int *arg_index,
                        const int *arg_op, const unsigned long long *arg_value,
                        const unsigned long long *arg_value_two)
{
    struct scmp_arg_cmp cmps[6];
    int nr = seccomp_syscall_resolve_name(syscall_name);
    if (nr == __NR_SCMP_ERROR) {
        errno = ENOSYS;
        return -1;
    }
    if (arg_count > 6) {
        errno = E2BIG;
        return -1;
    }
    for (unsigned int i = 0; i < arg_count; i++) {
        cmps[i].arg = arg_index[i];
        cmps[i].op = (enum scmp_compare)arg_op[i];
        cmps[i].datum_a = arg_value[i];
        cmps[i].datum_b = arg_value_two[i];
    }
    return seccomp_result(seccomp_rule_add_array(ctx, action, nr, arg_count, cmps));
}

int pr_seccomp_load(void *ctx)
{
    return seccomp_result(seccomp_load(ctx));
}

int pr_seccomp_notify_fd(void *ctx)
{
    return seccomp_result(seccomp_notify_fd(ctx));
}

void pr_seccomp_release(void *ctx)
{
    seccomp_release(ctx);
}

int pr_seccomp_syscall_known(const char *syscall_name)
{
    return seccomp_syscall_resolve_name(syscall_name) != __NR_SCMP_ERROR;
}

int pr_seccomp_arch_known(const char *arch_name)
{
    return seccomp_arch_resolve_name(arch_name) != 0;
}

unsigned int pr_seccomp_action_errno(int err)
{
    return SCMP_ACT_ERRNO(err);
}

unsigned int pr_seccomp_action_trace(int msg)
{
    return SCMP_ACT_TRACE(msg);
}
