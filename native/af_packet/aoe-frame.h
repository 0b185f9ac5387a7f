/* af_packet: the AoE and ATA header fields the fast path reads and writes, at the offsets of
 * src/aoe/codec/header.ts and ata.ts (AoEr11 sections 2 and 3.1). */
#ifndef ETHERPLANE_AOE_FRAME_H
#define ETHERPLANE_AOE_FRAME_H

#include <stdint.h>

enum {
  AOE_ETHERTYPE_HI = 0x88,
  AOE_ETHERTYPE_LO = 0xa2,
  AOE_VER_FLAGS = 14, /* version << 4 | flags */
  AOE_ERROR = 15,
  AOE_MAJOR = 16, /* shelf, 2 bytes big-endian */
  AOE_MINOR = 18, /* slot */
  AOE_COMMAND = 19,
  AOE_TAG = 20, /* 4 bytes, big-endian */
  ATA_AFLAGS = 24,
  ATA_ERR_FEATURE = 25,
  ATA_SECTOR_COUNT = 26,
  ATA_CMD_STATUS = 27,
  ATA_LBA = 28, /* 6 bytes, least significant first */
  ATA_DATA = 36,
  VERSION_1_NO_FLAGS = 0x10,
  VERSION_1_RESPONSE = 0x18,
  AFLAG_WRITE = 0x01,
  ATA_READ_SECTORS = 0x20,
  ATA_READ_SECTORS_EXT = 0x24,
  ATA_WRITE_SECTORS = 0x30,
  ATA_WRITE_SECTORS_EXT = 0x34,
  ATA_STATUS_DRDY = 0x40,
  SECTOR_BYTES = 512,
  /* The shortest Ethernet frame without its FCS (ETH_ZLEN): a reply without data is padded to
   * it with zeros, as ETH_FRAME_MIN_BYTES in src/aoe/codec. */
  FRAME_MIN_BYTES = 60,
};

#define LBA28_MASK UINT64_C(0x0fffffff)

#ifndef RWF_NOWAIT
#define RWF_NOWAIT 0x00000008 /* include/uapi/linux/fs.h */
#endif

#endif /* ETHERPLANE_AOE_FRAME_H */
