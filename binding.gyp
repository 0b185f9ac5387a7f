{
  # The project's only native code: raw Ethernet over AF_PACKET (native/af_packet.c), plain
  # Node-API in C, no dependencies. Built by `npm ci`/`npm install` (node-gyp rebuild) into
  # build/Release/af_packet.node, loaded by src/net/raw-socket/af-packet.ts.
  "targets": [
    {
      "target_name": "af_packet",
      "sources": ["native/af_packet.c"],
      "defines": ["NAPI_VERSION=8", "_GNU_SOURCE"],
      "cflags": ["-O2", "-std=gnu11", "-Wall", "-Wextra", "-Wshadow", "-Wno-unused-parameter"],
      "cflags!": ["-O3"],
      "conditions": [
        ["OS!='linux'", { "type": "none" }]
      ]
    }
  ]
}
