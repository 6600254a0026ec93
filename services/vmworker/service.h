/* parapet-vmworker as a service under parapet-init (DESIGN.md §2, §5,
 * §8): the VM from the boot device tree and init's memfds, the VmWorker
 * endpoint for policy, hostcomm and diagd, servicing save and restore. */
#ifndef PARAPET_VMWORKER_SERVICE_H
#define PARAPET_VMWORKER_SERVICE_H

int vmworker_service_main(void);

#endif
