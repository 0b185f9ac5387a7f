{
  # The project's native code, plain Node-API in C, no dependencies, built by `npm ci`/`npm install`
  # (node-gyp rebuild) into build/Release/:
  # - af_packet.node: raw Ethernet over AF_PACKET (native/af_packet/), for src/net/raw-socket/;
  # - nowait_io.node: preadv2/pwritev2 with RWF_NOWAIT (native/nowait_io.c), for src/block/file/,
  #   so page-cache hits skip libuv's thread pool without ever waiting for a disk.
  "targets": [
    {
      "target_name": "af_packet",
      "sources": [
        "native/af_packet/args.c",
        "native/af_packet/errors.c",
        "native/af_packet/fast-path.c",
        "native/af_packet/fast-read.c",
        "native/af_packet/fast-table.c",
        "native/af_packet/fast-write.c",
        "native/af_packet/info.c",
        "native/af_packet/init.c",
        "native/af_packet/lifecycle.c",
        "native/af_packet/open.c",
        "native/af_packet/receive.c",
        "native/af_packet/send.c",
        "native/af_packet/write-memory.c"
      ],
      "defines": ["NAPI_VERSION=8", "_GNU_SOURCE"],
      "cflags": ["-O2", "-std=gnu11", "-Wall", "-Wextra", "-Wshadow", "-Wno-unused-parameter"],
      "cflags!": ["-O3"],
      "conditions": [
        ["OS!='linux'", { "type": "none" }]
      ]
    },
    {
      "target_name": "nowait_io",
      "sources": ["native/nowait_io.c"],
      "defines": ["NAPI_VERSION=8"],
      "cflags": ["-O2", "-std=gnu11", "-Wall", "-Wextra", "-Wshadow", "-Wno-unused-parameter"],
      "cflags!": ["-O3"],
      "conditions": [
        ["OS!='linux'", { "type": "none" }]
      ]
    }
  ]
}
