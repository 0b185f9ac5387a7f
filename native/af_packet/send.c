/* af_packet: the send path. send() hands the caller's Buffers to sendmmsg(2) without copying;
 * when the kernel cannot take more, onWritable is called once it is worth trying again: after
 * the poll handle reports UV_WRITABLE (EAGAIN), or after a short timer (ENOBUFS). */
#include <errno.h>
#include <string.h>

#include "af-packet.h"

/* After ENOBUFS: the queueing discipline may have room again. */
static void on_retry_timer(uv_timer_t *timer) {
  Socket *s = timer->data;
  enter_callback(s);
  napi_handle_scope scope;
  NAPI_CHECK(napi_open_handle_scope(s->env, &scope));
  call_js(s, s->on_writable, 0, NULL);
  NAPI_CHECK(napi_close_handle_scope(s->env, scope));
  leave_callback(s);
}

napi_value js_send(napi_env env, napi_callback_info info) {
  napi_value argv[3];
  Socket *s = socket_args(env, info, 3, argv, true);
  if (s == NULL) return NULL;
  bool is_array = false;
  NAPI_CALL(env, napi_is_array(env, argv[1], &is_array));
  if (!is_array) {
    napi_throw_type_error(env, NULL, "af_packet: send: frames is not an array");
    return NULL;
  }
  uint32_t length = 0, start = 0;
  NAPI_CALL(env, napi_get_array_length(env, argv[1], &length));
  if (!get_uint32_arg(env, argv[2], 0, length, "start", &start)) return NULL;

  uint32_t next = start;
  int eintr = 0;
  while (next < length) {
    uint32_t chunk = length - next;
    if (chunk > SEND_CHUNK_FRAMES) chunk = SEND_CHUNK_FRAMES;
    for (uint32_t i = 0; i < chunk; i++) {
      napi_value frame;
      void *data = NULL;
      size_t bytes = 0;
      NAPI_CALL(env, napi_get_element(env, argv[1], next + i, &frame));
      if (napi_get_buffer_info(env, frame, &data, &bytes) != napi_ok) {
        napi_throw_type_error(env, NULL, "af_packet: send: a frame is not a Buffer");
        return NULL;
      }
      s->send_iovs[i].iov_base = data;
      s->send_iovs[i].iov_len = bytes;
      memset(&s->send_msgs[i], 0, sizeof s->send_msgs[i]);
      s->send_msgs[i].msg_hdr.msg_iov = &s->send_iovs[i];
      s->send_msgs[i].msg_hdr.msg_iovlen = 1;
    }
    /* No address: frames go to the interface the socket is bound to. */
    int n = sendmmsg(s->fd, s->send_msgs, chunk, MSG_DONTWAIT);
    if (n > 0) {
      /* A short count means the next frame failed; the next call reports why. */
      s->counters.frames_sent += (uint64_t)n;
      next += (uint32_t)n;
      continue;
    }
    int err = n < 0 ? errno : EAGAIN;
    if (err == EINTR && ++eintr < EINTR_RETRIES_MAX) continue;
    if (err == EAGAIN || err == EWOULDBLOCK) {
      /* The send buffer is full: try again when poll says there is room. */
      s->want_writable = true;
      update_poll(s);
      break;
    }
    if (err == ENOBUFS) {
      /* A queueing discipline dropped the frame: retry shortly (see ENOBUFS_RETRY_MS). */
      if (uv_timer_start(s->retry_timer, on_retry_timer, ENOBUFS_RETRY_MS, 0) != 0) {
        fatal("uv_timer_start failed");
      }
      break;
    }
    /* The kernel refused this frame (EMSGSIZE: longer than the MTU; EINVAL: shorter than a
     * header; ENETDOWN/ENXIO: interface down or gone): drop it, as a NIC would, and go on. */
    s->counters.send_errors += 1;
    s->counters.last_error = err;
    next += 1;
  }
  napi_value result;
  NAPI_CALL(env, napi_create_uint32(env, next - start, &result));
  return result;
}
