/* COM1: the 16550 UART (uart.h) at port 0x3f8, over the guest console.
 * Its state is a struct uart; the console rings are saved with it. */
#ifndef PARAPET_COM1_H
#define PARAPET_COM1_H

#include "services/vmworker/devices.h"

extern const struct dev_ops com1_dev;

#endif
