/* Parapet's version, the one string `parapet --version` and
 * `parapet-diag --version` print. */
#ifndef PARAPET_VERSION_H
#define PARAPET_VERSION_H

#define PARAPET_VERSION "0.9.0"

#endif
