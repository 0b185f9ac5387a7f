/*
 * af_packet: the module's exports (see af-packet.h for how the addon works and its files).
 *
 * JavaScript interface (all synchronous; af-packet.ts is the only caller):
 *   open(ifname, ethertype, netnsPath | null, batchFrames, receiveBufferBytes,
 *        sendBufferBytes, onFrames(buffer, count, slotBytes), onWritable(), filter?)
 *       -> { handle, lengths: Uint32Array, infos: Uint32Array }
 *     Frame i of a batch is buffer[i * slotBytes, i * slotBytes + lengths[i]); a length of 0
 *     marks a frame dropped because it did not fit its slot. infos[i] packs its packet type,
 *     stripped 802.1Q tag and whether it came through a stacked interface (af-packet.h). Both
 *     arrays are shared (one ArrayBuffer) and rewritten before every onFrames call. `filter`,
 *     null or a Buffer of classic BPF instructions, is attached (SO_ATTACH_FILTER) before bind.
 *   startReceiving(handle)           start polling for frames (after the handler is set)
 *   send(handle, frames, start) -> n frames[start .. start + n) were taken by the kernel or
 *                                    rejected by it (counted in sendErrors)
 *   mtu(handle) -> number            SIOCGIFMTU, read fresh on every call
 *   mac(handle) -> Buffer            the interface's 6-byte address, read at open
 *   stats(handle) -> object          counters, with PACKET_STATISTICS drops accumulated
 *   ref(handle), unref(handle)       whether an open socket keeps the event loop alive
 *   close(handle)                    idempotent
 *   setFastPath(handle, table | null, memories), takeFastPathCounters(handle): the AoE fast
 *                                    path's table and counters (fast-table.c)
 *   newWriteMemory(), writeMemoryHas(), writeMemoryRemember(), writeMemorySetPending(): an
 *                                    export's completed writes, shared with the fast path
 *                                    (write-memory.c)
 */
#include "af-packet.h"

static napi_value init(napi_env env, napi_value exports) {
  if (!init_env_state(env)) {
    napi_throw_error(env, NULL, "af_packet: cannot set up the environment's socket list");
    return NULL;
  }
  const napi_property_descriptor functions[] = {
      {"open", NULL, js_open, NULL, NULL, NULL, napi_enumerable, NULL},
      {"startReceiving", NULL, js_start_receiving, NULL, NULL, NULL, napi_enumerable, NULL},
      {"send", NULL, js_send, NULL, NULL, NULL, napi_enumerable, NULL},
      {"mtu", NULL, js_mtu, NULL, NULL, NULL, napi_enumerable, NULL},
      {"mac", NULL, js_mac, NULL, NULL, NULL, napi_enumerable, NULL},
      {"stats", NULL, js_stats, NULL, NULL, NULL, napi_enumerable, NULL},
      {"ref", NULL, js_ref, NULL, NULL, NULL, napi_enumerable, NULL},
      {"unref", NULL, js_unref, NULL, NULL, NULL, napi_enumerable, NULL},
      {"close", NULL, js_close, NULL, NULL, NULL, napi_enumerable, NULL},
      {"setFastPath", NULL, js_set_fast_path, NULL, NULL, NULL, napi_enumerable, NULL},
      {"takeFastPathCounters", NULL, js_take_fast_path_counters, NULL, NULL, NULL,
       napi_enumerable, NULL},
      {"newWriteMemory", NULL, js_new_write_memory, NULL, NULL, NULL, napi_enumerable, NULL},
      {"writeMemoryHas", NULL, js_write_memory_has, NULL, NULL, NULL, napi_enumerable, NULL},
      {"writeMemoryRemember", NULL, js_write_memory_remember, NULL, NULL, NULL, napi_enumerable,
       NULL},
      {"writeMemorySetPending", NULL, js_write_memory_set_pending, NULL, NULL, NULL,
       napi_enumerable, NULL},
  };
  NAPI_CALL(env, napi_define_properties(env, exports, sizeof functions / sizeof functions[0],
                                        functions));
  return exports;
}

NAPI_MODULE(NODE_GYP_MODULE_NAME, init)
