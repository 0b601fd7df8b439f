/* Declarations exported to Python by cffi (the cdef). Keep in step with pyrunc_native.c. */

/* namespaces */
int unshare(int flags);
int setns(int fd, int nstype);

/* mounts */
int mount(const char *source, const char *target, const char *fstype,
          unsigned long flags, const void *data);
int umount2(const char *target, int flags);
int pr_pivot_root(const char *new_root, const char *put_old);
int pr_mount_setattr(int dirfd, const char *path, unsigned int flags,
                     unsigned long long attr_set, unsigned long long attr_clr,
                     unsigned long long propagation, int recursive, int userns_fd);
int pr_open_tree(int dirfd, const char *path, unsigned int flags);
int pr_move_mount(int from_dirfd, const char *from_path, int to_dirfd,
                  const char *to_path, unsigned int flags);
int pr_fsopen(const char *fsname, unsigned int flags);
int pr_fsconfig(int fd, unsigned int cmd, const char *key, const void *value, int aux);
int pr_fsmount(int fd, unsigned int flags, unsigned int attr_flags);

/* files */
int pr_openat2(int dirfd, const char *path, unsigned long long flags,
               unsigned long long mode, unsigned long long resolve);
int pr_close_range(unsigned int first, unsigned int last, unsigned int flags);
long pr_fstatfs_type(int fd);

/* identity */
int sethostname(const char *name, size_t len);
int setdomainname(const char *name, size_t len);
int pr_capset(unsigned int effective[2], unsigned int permitted[2], unsigned int inheritable[2]);
int pr_capget(unsigned int effective[2], unsigned int permitted[2], unsigned int inheritable[2]);
int prctl(int option, unsigned long arg2, unsigned long arg3, unsigned long arg4,
          unsigned long arg5);

/* keyrings */
long pr_keyctl_join_session(const char *name);

/* scheduling and execution domain */
int pr_ioprio_set(int ioprio);
int pr_sched_setattr(unsigned int policy, unsigned long long flags, int nice,
                     unsigned int priority, unsigned long long runtime,
                     unsigned long long deadline, unsigned long long period);
int pr_personality(unsigned long persona);
int pr_set_mempolicy(int mode, const unsigned long *nodemask, unsigned long maxnode);

/* processes */

/* bpf(2): cgroup device programs (the instructions are built in Python) */
int pr_bpf_prog_load(unsigned int prog_type, const void *insns, unsigned int insn_cnt,
                     const char *license, const char *name, unsigned int log_level,
                     char *log_buf, unsigned int log_size);
int pr_bpf_prog_attach(int target_fd, int prog_fd, unsigned int attach_type, unsigned int flags);
int pr_bpf_prog_detach(int target_fd, int prog_fd, unsigned int attach_type);
int pr_bpf_prog_query(int target_fd, unsigned int attach_type, unsigned int *prog_ids,
                      unsigned int *prog_cnt, unsigned int *attach_flags);
int pr_bpf_prog_get_fd_by_id(unsigned int prog_id);

/* seccomp, through libseccomp: a filter is built rule by rule and loaded in one call */
void *pr_seccomp_init(unsigned int def_action);
int pr_seccomp_arch_add(void *ctx, const char *arch_name);
int pr_seccomp_set_flag(void *ctx, int attr, unsigned int value);
int pr_seccomp_rule_add(void *ctx, unsigned int action, const char *syscall_name,
                        unsigned int arg_count, const unsigned int *arg_index,
                        const int *arg_op, const unsigned long long *arg_value,
                        const unsigned long long *arg_value_two);
int pr_seccomp_load(void *ctx);
int pr_seccomp_notify_fd(void *ctx);
void pr_seccomp_release(void *ctx);
int pr_seccomp_syscall_known(const char *syscall_name);
int pr_seccomp_arch_known(const char *arch_name);
unsigned int pr_seccomp_action_errno(int err);
unsigned int pr_seccomp_action_trace(int msg);
