/* af_packet: the receive path. A level-triggered uv_poll_t on the socket's fd; when it is
 * readable, recvmmsg(2) fills a batch Buffer, one slot per frame, and onFrames gets the batch.
 * The same poll handle also reports UV_WRITABLE for a send that stopped on EAGAIN (send.c). */
#include <errno.h>
#include <string.h>

#include "af-packet.h"

/* The receive slot for an MTU: see SLOT_BYTES_MIN in af-packet.h. */
uint32_t slot_bytes_for_mtu(int mtu) {
  uint64_t bytes = (uint64_t)(mtu > 0 ? mtu : 0) + SLOT_HEADER_BYTES;
  bytes = (bytes + 63) & ~(uint64_t)63;
  if (bytes < SLOT_BYTES_MIN) bytes = SLOT_BYTES_MIN;
  if (bytes > SLOT_BYTES_MAX) bytes = SLOT_BYTES_MAX;
  return (uint32_t)bytes;
}

static void on_poll(uv_poll_t *poll, int status, int events);

/* Starts or stops the poll handle to match what the socket is waiting for. */
void update_poll(Socket *s) {
  if (s->fd < 0) return;
  int events = (s->receiving ? UV_READABLE : 0) | (s->want_writable ? UV_WRITABLE : 0);
  if (events == s->poll_events) return;
  int err = events == 0 ? uv_poll_stop(s->poll) : uv_poll_start(s->poll, events, on_poll);
  /* Both only fail for a handle that is closing or invalid: a bug here. */
  if (err != 0) fatal("uv_poll_start/stop failed");
  s->poll_events = events;
}

/* Returns a batch buffer of `bytes`: the spare one if it has that size, else a new one. */
static void take_batch_buffer(Socket *s, size_t bytes, napi_value *buffer, void **data) {
  if (s->spare_ref != NULL && s->spare_bytes == bytes) {
    NAPI_CHECK(napi_get_reference_value(s->env, s->spare_ref, buffer));
    *data = s->spare_data;
  } else {
    NAPI_CHECK(napi_create_buffer(s->env, bytes, data, buffer));
  }
  delete_ref(s->env, &s->spare_ref);
  s->spare_data = NULL;
}

static void keep_spare_buffer(Socket *s, napi_value buffer, void *data, size_t bytes) {
  NAPI_CHECK(napi_create_reference(s->env, buffer, 1, &s->spare_ref));
  s->spare_data = data;
  s->spare_bytes = bytes;
}

/* The frame's packet type and stripped 802.1Q tag, packed as af-packet.h describes. */
static uint32_t frame_info(const Socket *s, const struct mmsghdr *m) {
  const struct sockaddr_ll *from = m->msg_hdr.msg_name;
  uint32_t info = from->sll_pkttype & 0xff;
  /* A socket bound to an interface also gets the frames the kernel passes on to a VLAN interface
   * on top of it, untagged, with that interface's index (packet_rcv: skb->dev, not orig_dev). */
  if (from->sll_ifindex != s->ifindex) info |= FRAME_INFO_UPPER_INTERFACE;
  for (struct cmsghdr *c = CMSG_FIRSTHDR(&m->msg_hdr); c != NULL;
       c = CMSG_NXTHDR((struct msghdr *)&m->msg_hdr, c)) {
    if (c->cmsg_level != SOL_PACKET || c->cmsg_type != PACKET_AUXDATA ||
        c->cmsg_len < CMSG_LEN(sizeof(struct tpacket_auxdata)))
      continue;
    struct tpacket_auxdata aux;
    memcpy(&aux, CMSG_DATA(c), sizeof aux);
    /* TP_STATUS_VLAN_VALID: a tag was there even when its TCI is 0 (Linux 3.0). */
    if ((aux.tp_status & TP_STATUS_VLAN_VALID) != 0 || aux.tp_vlan_tci != 0)
      info |= FRAME_INFO_VLAN | ((uint32_t)aux.tp_vlan_tci << FRAME_INFO_TCI_SHIFT);
  }
  return info;
}

/* Reads one batch. Returns the number of frames read (0 when the socket is drained). */
static int receive_batch(Socket *s, uint32_t frames_max) {
  napi_env env = s->env;
  const size_t slot = s->slot_bytes;
  const size_t bytes = slot * frames_max;
  napi_value buffer;
  void *data;
  take_batch_buffer(s, bytes, &buffer, &data);
  for (uint32_t i = 0; i < frames_max; i++) {
    s->recv_iovs[i].iov_base = (uint8_t *)data + i * slot;
    s->recv_iovs[i].iov_len = slot;
    memset(&s->recv_msgs[i], 0, sizeof s->recv_msgs[i]);
    s->recv_msgs[i].msg_hdr.msg_iov = &s->recv_iovs[i];
    s->recv_msgs[i].msg_hdr.msg_iovlen = 1;
    s->recv_msgs[i].msg_hdr.msg_name = &s->recv_addrs[i];
    s->recv_msgs[i].msg_hdr.msg_namelen = sizeof s->recv_addrs[i];
    s->recv_msgs[i].msg_hdr.msg_control = s->recv_control + (size_t)i * RECV_CONTROL_BYTES;
    s->recv_msgs[i].msg_hdr.msg_controllen = RECV_CONTROL_BYTES;
  }
  int n = -1;
  for (int attempt = 0; attempt < EINTR_RETRIES_MAX; attempt++) {
    /* MSG_TRUNC: msg_len is the frame's real length, so that oversize frames can be seen. */
    n = recvmmsg(s->fd, s->recv_msgs, frames_max, MSG_DONTWAIT | MSG_TRUNC, NULL);
    if (n >= 0 || errno != EINTR) break;
  }
  if (n <= 0) {
    if (n < 0 && errno != EAGAIN && errno != EWOULDBLOCK) {
      s->counters.receive_errors += 1;
      s->counters.last_error = errno;
    }
    keep_spare_buffer(s, buffer, data, bytes);
    return 0;
  }
  for (int i = 0; i < n; i++) {
    const struct mmsghdr *m = &s->recv_msgs[i];
    if ((m->msg_hdr.msg_flags & MSG_TRUNC) != 0 || m->msg_len > slot) {
      s->lengths[i] = 0;
      s->counters.truncated_drops += 1;
    } else {
      s->lengths[i] = m->msg_len;
      s->counters.frames_received += 1;
    }
    s->infos[i] = frame_info(s, m);
  }
  /* The AoE fast path answers what it can; when it answered every frame, JavaScript is not
   * called and the buffer, never handed out, serves the next batch. */
  if (fast_path_batch(s, data, (uint32_t)n, slot) == (uint32_t)n) {
    keep_spare_buffer(s, buffer, data, bytes);
    return n;
  }
  napi_value argv[3];
  argv[0] = buffer;
  NAPI_CHECK(napi_create_uint32(env, (uint32_t)n, &argv[1]));
  NAPI_CHECK(napi_create_uint32(env, (uint32_t)slot, &argv[2]));
  call_js(s, s->on_frames, 3, argv);
  /* The consumer promised to keep no frame past the call (and may have closed the socket). */
  if (s->reuse_batch && s->fd >= 0 && s->spare_ref == NULL) {
    keep_spare_buffer(s, buffer, data, bytes);
  }
  return n;
}

/* Drains the socket, at most BATCHES_PER_EVENT_MAX batches; the poll fires again if more is
 * left (it is level-triggered). */
static void receive(Socket *s) {
  /* The slot follows the MTU, which can change at any time; one ioctl per readable event. */
  int mtu = 0;
  if (read_mtu(s->fd, s->ifname, &mtu) == 0) {
    s->slot_bytes = slot_bytes_for_mtu(mtu);
    /* (MTU - 36) / 512, as sectorsPerFrame in src/aoe/codec/ata.ts: the fast path's bound. */
    s->mtu_sectors_max = mtu > 36 ? (uint32_t)(mtu - 36) / 512 : 0;
    if (s->mtu_sectors_max > 255) s->mtu_sectors_max = 255;
  } else {
    s->mtu_sectors_max = 0;
  }
  uint32_t frames_max = BATCH_BYTES_MAX / s->slot_bytes;
  if (frames_max > s->batch_frames) frames_max = s->batch_frames;
  if (frames_max == 0) frames_max = 1;
  for (int batch = 0; batch < BATCHES_PER_EVENT_MAX; batch++) {
    napi_handle_scope scope;
    NAPI_CHECK(napi_open_handle_scope(s->env, &scope));
    int n = receive_batch(s, frames_max);
    NAPI_CHECK(napi_close_handle_scope(s->env, scope));
    /* A short batch means the queue is empty: skip the call that would return EAGAIN. The
     * callback may also have closed the socket. */
    if ((uint32_t)n < frames_max || s->fd < 0) break;
  }
}

/* Reads and clears the socket's pending error (SO_ERROR), e.g. ENETDOWN after `ip link set
 * down`; libuv stops the poll on POLLERR, so it is restarted afterwards. */
static void clear_socket_error(Socket *s) {
  int err = 0;
  socklen_t len = sizeof err;
  if (getsockopt(s->fd, SOL_SOCKET, SO_ERROR, &err, &len) != 0) err = errno;
  if (err != 0) {
    s->counters.receive_errors += 1;
    s->counters.last_error = err;
  }
  s->poll_events = 0; /* libuv stopped the handle */
  update_poll(s);
}

static void on_poll(uv_poll_t *poll, int status, int events) {
  Socket *s = poll->data;
  enter_callback(s);
  napi_handle_scope scope;
  NAPI_CHECK(napi_open_handle_scope(s->env, &scope));
  if (status < 0) {
    clear_socket_error(s);
  } else {
    if ((events & UV_WRITABLE) != 0 && s->want_writable) {
      s->want_writable = false;
      update_poll(s);
      call_js(s, s->on_writable, 0, NULL);
    }
    if ((events & UV_READABLE) != 0 && s->fd >= 0 && s->receiving) receive(s);
  }
  NAPI_CHECK(napi_close_handle_scope(s->env, scope));
  leave_callback(s);
}

napi_value js_start_receiving(napi_env env, napi_callback_info info) {
  napi_value argv[1];
  Socket *s = socket_args(env, info, 1, argv, true);
  if (s == NULL) return NULL;
  s->receiving = true;
  update_poll(s);
  return NULL;
}
