/* Internal: the seccomp allowlists of sandbox/profiles.c, added to a
 * libseccomp filter by sandbox.c (process) and sandbox_thread_filter. */
#ifndef PARAPET_SANDBOX_PROFILES_H
#define PARAPET_SANDBOX_PROFILES_H

#include <seccomp.h>

#include "sandbox/sandbox.h"

/* Adds the rules of profile to ctx; *n_syscalls gets the number of
 * distinct syscalls allowed. 0, or a negative errno from libseccomp. */
int profile_add_rules(scmp_filter_ctx ctx, enum sandbox_profile profile,
		      unsigned flags, unsigned *n_syscalls);

#endif
