/* af_packet: open(): checks the arguments, creates and binds the socket (inside a network
 * namespace when netnsPath is given), and builds the handle that JavaScript holds. */
#include <errno.h>
#include <fcntl.h>
#include <net/if_arp.h>
#include <sched.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <unistd.h>

#include <arpa/inet.h>
#include <linux/filter.h>
#include <linux/if_packet.h>

#include "af-packet.h"

/* SO_RCVBUF and SO_SNDBUF as asked by the caller. */
typedef struct {
  int receive;
  int send;
} BufferBytes;

/* An optional classic BPF receive filter, attached before bind() so that no frame it would
 * refuse is ever queued. */
typedef struct {
  struct sock_filter instructions[FILTER_INSTRUCTIONS_MAX];
  unsigned short length; /* 0: no filter */
} Filter;

/* An error found while the thread is in another network namespace: thrown after returning. */
typedef struct {
  int err;
  char what[ERROR_MESSAGE_BYTES / 2];
} OpenError;

static bool open_failed(OpenError *e, int err, const char *what) {
  e->err = err;
  snprintf(e->what, sizeof e->what, "%s", what);
  return false;
}

/* Sets a socket buffer size, with the *FORCE variant first so that root may exceed
 * net.core.[rw]mem_max; the kernel doubles the value for its bookkeeping (socket(7)). */
static bool set_buffer_bytes(int fd, int force_option, int option, int bytes) {
  if (setsockopt(fd, SOL_SOCKET, force_option, &bytes, sizeof bytes) == 0) return true;
  if (errno != EPERM) return false;
  return setsockopt(fd, SOL_SOCKET, option, &bytes, sizeof bytes) == 0;
}

/* Creates and binds the socket in the calling thread's current network namespace. */
static bool open_here(Socket *s, int ethertype, const BufferBytes *buffers, const Filter *filter,
                      OpenError *e) {
  char what[ERROR_MESSAGE_BYTES / 2];
  s->ifindex = (int)if_nametoindex(s->ifname);
  if (s->ifindex == 0) {
    snprintf(what, sizeof what, "interface %s not found", s->ifname);
    return open_failed(e, errno, what);
  }
  /* Protocol 0 receives nothing until bind() sets the ethertype together with the interface;
   * creating it with the ethertype would briefly receive that ethertype from every interface. */
  s->fd = socket(AF_PACKET, SOCK_RAW | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
  if (s->fd < 0) {
    snprintf(what, sizeof what, "socket(AF_PACKET) for %s", s->ifname);
    return open_failed(e, errno, what);
  }
  /* Never see our own host's outgoing frames (Linux 4.20, packet(7)). */
  int one = 1;
  if (setsockopt(s->fd, SOL_PACKET, PACKET_IGNORE_OUTGOING, &one, sizeof one) != 0) {
    return open_failed(e, errno, "setsockopt(PACKET_IGNORE_OUTGOING)");
  }
  /* The 802.1Q tag the kernel strips from a received frame is only reported here (packet(7)):
   * without it a tagged frame looks untagged, and a target on a trunk would answer every VLAN. */
  if (setsockopt(s->fd, SOL_PACKET, PACKET_AUXDATA, &one, sizeof one) != 0) {
    return open_failed(e, errno, "setsockopt(PACKET_AUXDATA)");
  }
  if (!set_buffer_bytes(s->fd, SO_RCVBUFFORCE, SO_RCVBUF, buffers->receive)) {
    return open_failed(e, errno, "setsockopt(SO_RCVBUF)");
  }
  if (!set_buffer_bytes(s->fd, SO_SNDBUFFORCE, SO_SNDBUF, buffers->send)) {
    return open_failed(e, errno, "setsockopt(SO_SNDBUF)");
  }
  if (filter->length > 0) {
    struct sock_fprog program = {filter->length, (struct sock_filter *)filter->instructions};
    if (setsockopt(s->fd, SOL_SOCKET, SO_ATTACH_FILTER, &program, sizeof program) != 0) {
      return open_failed(e, errno, "setsockopt(SO_ATTACH_FILTER)");
    }
  }
  struct sockaddr_ll addr;
  memset(&addr, 0, sizeof addr);
  addr.sll_family = AF_PACKET;
  addr.sll_protocol = htons((uint16_t)ethertype);
  addr.sll_ifindex = s->ifindex;
  if (bind(s->fd, (struct sockaddr *)&addr, sizeof addr) != 0) {
    snprintf(what, sizeof what, "bind to interface %s", s->ifname);
    return open_failed(e, errno, what);
  }
  struct ifreq ifr;
  memset(&ifr, 0, sizeof ifr);
  snprintf(ifr.ifr_name, sizeof ifr.ifr_name, "%s", s->ifname);
  if (ioctl(s->fd, SIOCGIFHWADDR, &ifr) != 0) {
    snprintf(what, sizeof what, "reading the MAC address of %s", s->ifname);
    return open_failed(e, errno, what);
  }
  if (ifr.ifr_hwaddr.sa_family != ARPHRD_ETHER) {
    snprintf(what, sizeof what, "%s is not an Ethernet interface (ARPHRD %u)", s->ifname,
             (unsigned)ifr.ifr_hwaddr.sa_family);
    return open_failed(e, EINVAL, what);
  }
  memcpy(s->mac, ifr.ifr_hwaddr.sa_data, ETH_ALEN);
  int mtu = 0;
  int err = read_mtu(s->fd, s->ifname, &mtu);
  if (err != 0) {
    snprintf(what, sizeof what, "reading the MTU of %s", s->ifname);
    return open_failed(e, err, what);
  }
  s->slot_bytes = slot_bytes_for_mtu(mtu);
  return true;
}

/* Creates the socket inside the network namespace at `netns_path`: this thread enters it, opens
 * the socket, and always returns to its own namespace (setns(2) changes only the calling
 * thread, and a socket stays in the namespace it was created in). */
static bool open_in_netns(Socket *s, const char *netns_path, int ethertype,
                          const BufferBytes *buffers, const Filter *filter, OpenError *e) {
  char what[ERROR_MESSAGE_BYTES / 2];
  int target = open(netns_path, O_RDONLY | O_CLOEXEC);
  if (target < 0) {
    snprintf(what, sizeof what, "cannot open network namespace %s", netns_path);
    return open_failed(e, errno, what);
  }
  int saved = open("/proc/thread-self/ns/net", O_RDONLY | O_CLOEXEC);
  if (saved < 0) {
    int err = errno;
    close(target);
    return open_failed(e, err, "cannot open /proc/thread-self/ns/net");
  }
  bool ok;
  if (setns(target, CLONE_NEWNET) != 0) {
    snprintf(what, sizeof what, "cannot enter network namespace %s", netns_path);
    ok = open_failed(e, errno, what);
  } else {
    ok = open_here(s, ethertype, buffers, filter, e);
    /* Staying in the wrong namespace would silently send later sockets' traffic elsewhere. */
    if (setns(saved, CLONE_NEWNET) != 0) fatal("cannot return to the thread's network namespace");
  }
  close(saved);
  close(target);
  return ok;
}

/* The optional filter argument: null/undefined, or a Buffer of struct sock_filter entries (8 bytes
 * each, host byte order: code u16, jt u8, jf u8, k u32), built in src/net/raw-socket/bpf.ts. */
static bool read_filter(napi_env env, napi_value value, Filter *storage, const Filter **out) {
  napi_valuetype type;
  if (napi_typeof(env, value, &type) != napi_ok) return false;
  if (type == napi_null || type == napi_undefined) return true;
  bool is_buffer = false;
  void *data = NULL;
  size_t bytes = 0;
  if (napi_is_buffer(env, value, &is_buffer) != napi_ok || !is_buffer ||
      napi_get_buffer_info(env, value, &data, &bytes) != napi_ok || bytes == 0 ||
      bytes % sizeof(struct sock_filter) != 0 ||
      bytes / sizeof(struct sock_filter) > FILTER_INSTRUCTIONS_MAX) {
    napi_throw_type_error(env, NULL,
                          "af_packet: filter must be null or a Buffer of 1 to 64 sock_filter "
                          "instructions (8 bytes each)");
    return false;
  }
  memcpy(storage->instructions, data, bytes);
  storage->length = (unsigned short)(bytes / sizeof(struct sock_filter));
  *out = storage;
  return true;
}

napi_value js_open(napi_env env, napi_callback_info info) {
  size_t argc = 10;
  napi_value argv[10];
  NAPI_CALL(env, napi_get_cb_info(env, info, &argc, argv, NULL, NULL));
  if (argc < 8 || !is_function(env, argv[6]) || !is_function(env, argv[7])) {
    napi_throw_type_error(env, NULL,
                          "af_packet: open(ifname, ethertype, netnsPath, batchFrames, "
                          "receiveBufferBytes, sendBufferBytes, onFrames, onWritable[, filter[, "
                          "reuseReceiveBuffer]])");
    return NULL;
  }
  static Filter no_filter; /* zeroed: length 0 */
  Filter filter_storage;
  const Filter *filter = &no_filter;
  if (argc >= 9 && !read_filter(env, argv[8], &filter_storage, &filter)) return NULL;
  bool reuse_batch = false;
  if (argc >= 10 && napi_get_value_bool(env, argv[9], &reuse_batch) != napi_ok) {
    napi_throw_type_error(env, NULL, "af_packet: open: reuseReceiveBuffer is not a boolean");
    return NULL;
  }
  char ifname[IFNAMSIZ + 1];
  size_t ifname_len = 0;
  if (napi_get_value_string_utf8(env, argv[0], ifname, sizeof ifname, &ifname_len) != napi_ok ||
      ifname_len == 0 || ifname_len >= IFNAMSIZ) {
    napi_throw_type_error(env, NULL, "af_packet: ifname must be a string of 1 to 15 bytes");
    return NULL;
  }
  uint32_t ethertype, batch_frames, receive_buffer_bytes, send_buffer_bytes;
  if (!get_uint32_arg(env, argv[1], 0, 0xffff, "ethertype", &ethertype) ||
      !get_uint32_arg(env, argv[3], 1, BATCH_FRAMES_MAX, "batchFrames", &batch_frames) ||
      !get_uint32_arg(env, argv[4], SOCKET_BUFFER_BYTES_MIN, SOCKET_BUFFER_BYTES_MAX,
                      "receiveBufferBytes", &receive_buffer_bytes) ||
      !get_uint32_arg(env, argv[5], SOCKET_BUFFER_BYTES_MIN, SOCKET_BUFFER_BYTES_MAX,
                      "sendBufferBytes", &send_buffer_bytes)) {
    return NULL;
  }
  const BufferBytes buffers = {(int)receive_buffer_bytes, (int)send_buffer_bytes};
  char netns_path[NETNS_PATH_BYTES_MAX];
  bool has_netns = false;
  napi_valuetype netns_type;
  NAPI_CALL(env, napi_typeof(env, argv[2], &netns_type));
  if (netns_type == napi_string) {
    size_t len = 0;
    NAPI_CALL(env, napi_get_value_string_utf8(env, argv[2], netns_path, sizeof netns_path, &len));
    if (len == 0 || len >= sizeof netns_path - 1) {
      napi_throw_type_error(env, NULL, "af_packet: netnsPath must be a path of 1 to 190 bytes");
      return NULL;
    }
    has_netns = true;
  } else if (netns_type != napi_null && netns_type != napi_undefined) {
    napi_throw_type_error(env, NULL, "af_packet: netnsPath must be a string or null");
    return NULL;
  }

  Socket *s = calloc(1, sizeof *s);
  if (s == NULL) {
    throw_errno(env, ENOMEM, "allocating a socket");
    return NULL;
  }
  s->env = env;
  s->fd = -1;
  s->batch_frames = batch_frames;
  s->reuse_batch = reuse_batch;
  memcpy(s->ifname, ifname, ifname_len + 1);
  s->recv_msgs = calloc(batch_frames, sizeof *s->recv_msgs);
  s->recv_iovs = calloc(batch_frames, sizeof *s->recv_iovs);
  s->recv_addrs = calloc(batch_frames, sizeof *s->recv_addrs);
  s->recv_control = calloc(batch_frames, RECV_CONTROL_BYTES);
  s->send_msgs = calloc(SEND_CHUNK_FRAMES, sizeof *s->send_msgs);
  /* Two a reply: a fast-path READ's header, and its data in the export's mapping. */
  s->send_iovs = calloc(2 * SEND_CHUNK_FRAMES, sizeof *s->send_iovs);
  s->poll = malloc(sizeof *s->poll);
  s->retry_timer = malloc(sizeof *s->retry_timer);
  if (s->recv_msgs == NULL || s->recv_iovs == NULL || s->recv_addrs == NULL ||
      s->recv_control == NULL || s->send_msgs == NULL ||
      s->send_iovs == NULL || s->poll == NULL || s->retry_timer == NULL) {
    free(s->poll);
    free(s->retry_timer);
    free_socket(s);
    throw_errno(env, ENOMEM, "allocating a socket");
    return NULL;
  }

  OpenError open_error = {0};
  bool opened = has_netns
                    ? open_in_netns(s, netns_path, (int)ethertype, &buffers, filter, &open_error)
                    : open_here(s, (int)ethertype, &buffers, filter, &open_error);
  uv_loop_t *loop = NULL;
  if (opened && napi_get_uv_event_loop(env, &loop) != napi_ok) {
    opened = open_failed(&open_error, EINVAL, "no libuv event loop");
  }
  if (opened && uv_poll_init(loop, s->poll, s->fd) != 0) {
    opened = open_failed(&open_error, EINVAL, "uv_poll_init");
  }
  if (!opened) {
    if (s->fd >= 0) close(s->fd);
    free(s->poll);
    free(s->retry_timer);
    free_socket(s);
    throw_errno(env, open_error.err, open_error.what);
    return NULL;
  }
  if (uv_timer_init(loop, s->retry_timer) != 0) fatal("uv_timer_init failed");
  s->loop = loop;
  s->poll->data = s;
  s->retry_timer->data = s;
  track_open_socket(s);

  /* From here on the handle's finalizer owns `s`; failures close the socket and throw. */
  napi_value handle, resource, name, lengths_buffer, lengths, infos, result;
  if (napi_create_external(env, s, finalize_socket, NULL, &handle) != napi_ok) {
    shutdown_io(s, false);
    free_socket(s);
    throw_napi_failure(env, "napi_create_external");
    return NULL;
  }
  void *lengths_data = NULL;
  const int64_t native_bytes =
      (int64_t)(sizeof *s +
                batch_frames * (sizeof *s->recv_msgs + sizeof *s->recv_iovs +
                                sizeof *s->recv_addrs + RECV_CONTROL_BYTES) +
                SEND_CHUNK_FRAMES * (sizeof *s->send_msgs + 2 * sizeof *s->send_iovs));
  int64_t adjusted = 0;
  bool ok = napi_adjust_external_memory(env, native_bytes, &adjusted) == napi_ok;
  if (ok) s->native_bytes = native_bytes;
  ok = ok &&
      napi_create_reference(env, handle, 1, &s->self) == napi_ok &&
      napi_create_reference(env, argv[6], 1, &s->on_frames) == napi_ok &&
      napi_create_reference(env, argv[7], 1, &s->on_writable) == napi_ok &&
      napi_create_object(env, &resource) == napi_ok &&
      napi_create_string_utf8(env, "af_packet", NAPI_AUTO_LENGTH, &name) == napi_ok &&
      napi_async_init(env, resource, name, &s->async_context) == napi_ok &&
      /* An ArrayBuffer's backing store never moves, so the pointer stays valid. */
      /* lengths[batch_frames], then infos[batch_frames] */
      napi_create_arraybuffer(env, 2 * batch_frames * sizeof(uint32_t), &lengths_data,
                              &lengths_buffer) == napi_ok &&
      napi_create_reference(env, lengths_buffer, 1, &s->lengths_ref) == napi_ok &&
      napi_create_typedarray(env, napi_uint32_array, batch_frames, lengths_buffer, 0,
                             &lengths) == napi_ok &&
      napi_create_typedarray(env, napi_uint32_array, batch_frames, lengths_buffer,
                             batch_frames * sizeof(uint32_t), &infos) == napi_ok &&
      napi_create_object(env, &result) == napi_ok &&
      napi_set_named_property(env, result, "handle", handle) == napi_ok &&
      napi_set_named_property(env, result, "lengths", lengths) == napi_ok &&
      napi_set_named_property(env, result, "infos", infos) == napi_ok;
  if (!ok) {
    throw_napi_failure(env, "creating the socket's JavaScript state");
    shutdown_io(s, true);
    release_js(s);
    return NULL;
  }
  s->lengths = lengths_data;
  s->infos = (uint32_t *)lengths_data + batch_frames;
  return result;
}
