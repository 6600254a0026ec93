/* Internal: the SIGSYS reporter of sandbox/sigsys.c. */
#ifndef PARAPET_SANDBOX_SIGSYS_H
#define PARAPET_SANDBOX_SIGSYS_H

/* Builds the syscall name table (allocates: call before the filter) and
 * installs the SIGSYS handler for service. 0, or -1 with errno. */
int sigsys_install(const char *service);

#endif
