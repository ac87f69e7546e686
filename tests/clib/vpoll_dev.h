/* SPDX-License-Identifier: MIT OR Apache-2.0 */
/*
 * /dev/vpoll's ABI as a C client of the C vpoll module writes it (that module
 * ships no header), with this project's batch ioctl. The tests' C clients
 * include it; tests/host/abi_copies.rs checks it, libvpoll's `abi` module and
 * docs/abi.md against the one source, kmod/abi.rs.
 */
#ifndef VPOLL_DEV_H
#define VPOLL_DEV_H

#include <stdint.h>
#include <sys/ioctl.h>

#define VPOLL_IOC_MAGIC '^'
#define VPOLL_IO_ADDEVENTS _IO(VPOLL_IOC_MAGIC, 1)
#define VPOLL_IO_DELEVENTS _IO(VPOLL_IOC_MAGIC, 2)
#define VPOLL_IO_SETEVENTS _IO(VPOLL_IOC_MAGIC, 3)
/* An 8-byte write(2) of op << 32 | events, as to an EFD_VPOLL eventfd. */
#define EFD_VPOLL_ADDEVENTS (1ULL << 32)
#define EFD_VPOLL_DELEVENTS (2ULL << 32)
#define EFD_VPOLL_MODEVENTS (3ULL << 32)
/* Every bit a pending mask may hold. */
#define VPOLL_EVENTS_ALL 0x0fffffffU

/* This project's batch ioctl: the same layout for 32- and 64-bit callers. */
struct vpoll_batch_entry {
	int32_t fd;
	uint32_t op;
	uint32_t events;
	int32_t result;
};
struct vpoll_batch {
	uint64_t entries;
	uint32_t count;
	uint32_t flags;
};
#define VPOLL_IO_BATCH _IOWR(VPOLL_IOC_MAGIC, 4, struct vpoll_batch)
/* The most entries one VPOLL_IO_BATCH takes (E2BIG beyond). */
#define VPOLL_BATCH_MAX 1024

#endif
