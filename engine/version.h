/* version.h - imgsh's version and the qemu-img version it mimics. */
#ifndef IMGSH_VERSION_H
#define IMGSH_VERSION_H

#define IMGSH_VERSION "0.1.0"
#define QEMU_COMPAT_VERSION "7.2.0"

#endif
