/*
 * af_packet: raw Ethernet frames for etherplane's data path, over a Linux AF_PACKET socket
 * (packet(7)). The only native code of the project; plain Node-API (node_api.h) in C.
 *
 * One socket is bound to one interface and one ethertype. Receiving is driven by a uv_poll_t on
 * the non-blocking fd: when it is readable, recvmmsg(2) reads up to `batchFrames` frames straight
 * into a freshly allocated Node Buffer, one fixed-size slot per frame, and JavaScript gets the
 * whole batch in one call. The Buffer is never reused, so frames handed to JavaScript stay valid.
 * Sending is one sendmmsg(2) over iovecs that point into the caller's Buffers (no copy). When the
 * kernel takes only part of a batch, the addon calls `onWritable` once it is worth trying again.
 *
 * JavaScript interface (all synchronous; af-packet.ts is the only caller):
 *   open(ifname, ethertype, netnsPath | null, batchFrames, receiveBufferBytes,
 *        onFrames(buffer, count, slotBytes), onWritable()) -> { handle, lengths: Uint32Array }
 *     Frame i of a batch is buffer[i * slotBytes, i * slotBytes + lengths[i]); a length of 0
 *     marks a frame dropped because it did not fit its slot. `lengths` is shared and rewritten
 *     before every onFrames call.
 *   startReceiving(handle)           start polling for frames (after the handler is set)
 *   send(handle, frames, start) -> n frames[start .. start + n) were taken by the kernel or
 *                                    rejected by it (counted in sendErrors)
 *   mtu(handle) -> number            SIOCGIFMTU, read fresh on every call
 *   mac(handle) -> Buffer            the interface's 6-byte address, read at open
 *   stats(handle) -> object          counters, with PACKET_STATISTICS drops accumulated
 *   ref(handle), unref(handle)       whether an open socket keeps the event loop alive
 *   close(handle)                    idempotent
 */
#include <errno.h>
#include <fcntl.h>
#include <net/if.h>
#include <net/if_arp.h>
#include <sched.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/socket.h>
#include <unistd.h>

#include <arpa/inet.h>
#include <linux/if_ether.h>
#include <linux/if_packet.h>

#include <node_api.h>
#include <uv.h>

/* Limits (TIGER_STYLE: a bound on everything). */
enum {
  /* recvmmsg/sendmmsg take at most UIO_MAXIOV (1024) messages per call (net/socket.c). */
  BATCH_FRAMES_MAX = 1024,
  /* Receive batches per readable event, so that one busy socket cannot starve the loop. */
  BATCHES_PER_EVENT_MAX = 16,
  /* Bytes of one receive batch buffer; larger slots (jumbo MTUs) mean fewer frames per call. */
  BATCH_BYTES_MAX = 4 << 20,
  /* A receive slot holds MTU + Ethernet header (14) + one VLAN tag (4), rounded to 64 bytes;
   * the kernel lets a veth receive frames of up to that size (is_skb_forwardable(), net/core). */
  SLOT_BYTES_MIN = 1536,
  SLOT_BYTES_MAX = 65536 + 64,
  SLOT_HEADER_BYTES = ETH_HLEN + 4,
  /* Frames per sendmmsg call. */
  SEND_CHUNK_FRAMES = 256,
  /* SO_SNDBUF: enough for a full send chunk of jumbo frames. */
  SEND_BUFFER_BYTES = 4 << 20,
  RECEIVE_BUFFER_BYTES_MAX = 1 << 30,
  /* ENOBUFS means a queueing discipline dropped the frame; poll(2) cannot tell when it has room
   * again, so retry after this delay. */
  ENOBUFS_RETRY_MS = 1,
  /* EINTR retries per call (MSG_DONTWAIT calls should never see EINTR). */
  EINTR_RETRIES_MAX = 8,
  /* netnsPath is a short path such as /var/run/netns/NAME (ip-netns(8)). */
  NETNS_PATH_BYTES_MAX = 192,
  ERROR_MESSAGE_BYTES = 512,
};

typedef struct {
  uint64_t frames_received;
  uint64_t frames_sent;
  uint64_t send_errors;     /* frames the kernel refused (too long, interface down) */
  uint64_t truncated_drops; /* received frames longer than their slot */
  uint64_t receive_errors;  /* recvmmsg errors and socket errors (e.g. ENETDOWN) */
  uint64_t kernel_drops;    /* PACKET_STATISTICS tp_drops, accumulated (reading resets it) */
  int last_error;           /* errno of the latest send or receive error, 0 if none */
} Counters;

typedef struct {
  napi_env env;
  uv_loop_t *loop;
  int fd; /* -1 once closed */
  int ifindex;
  char ifname[IFNAMSIZ];
  uint8_t mac[ETH_ALEN];
  uint32_t batch_frames;
  uint32_t slot_bytes;

  /* Separately allocated libuv handles: each one is freed by its own close callback, which may
   * run after this struct is gone. */
  uv_poll_t *poll;
  uv_timer_t *retry_timer;
  bool receiving;     /* startReceiving() was called */
  bool want_writable; /* a send stopped on EAGAIN: poll for UV_WRITABLE once */
  int poll_events;    /* events the poll handle was last started with (0: stopped) */

  /* JavaScript state. `self` keeps the handle (and so this struct) alive while the socket is
   * open, like an open net.Socket. */
  napi_ref self;
  napi_ref on_frames;
  napi_ref on_writable;
  napi_ref lengths_ref;
  uint32_t *lengths;
  napi_async_context async_context;
  /* A batch buffer that recvmmsg left empty (EAGAIN), kept for the next receive. */
  napi_ref spare_ref;
  void *spare_data;
  size_t spare_bytes;

  /* Re-entrancy: JavaScript may close the socket from inside a callback, and V8 may finalize
   * the handle afterwards; the struct and its JavaScript references are released only once no
   * callback is running. */
  int busy;
  bool release_pending;
  bool finalized;

  /* Native bytes reported to V8 (napi_adjust_external_memory), so that garbage collection
   * knows what a closed socket's handle still holds. */
  int64_t native_bytes;
  struct mmsghdr *recv_msgs;
  struct iovec *recv_iovs;
  struct mmsghdr *send_msgs;
  struct iovec *send_iovs;
  Counters counters;
} Socket;

/* ---- Errors ------------------------------------------------------------------------------- */

static const char *errno_name(int err) {
  const char *name = strerrorname_np(err);
  return name != NULL ? name : "EUNKNOWN";
}

/* Throws `af_packet: <what>: <strerror> (<ENAME>)` with `code` = ENAME, plus a hint for the
 * errors a user can fix. */
static void throw_errno(napi_env env, int err, const char *what) {
  char message[ERROR_MESSAGE_BYTES];
  const char *hint = "";
  if (err == EPERM || err == EACCES) {
    hint = "; raw sockets and network namespaces need root or CAP_NET_RAW (and CAP_SYS_ADMIN "
           "for netnsPath)";
  }
  snprintf(message, sizeof message, "af_packet: %s: %s (%s)%s", what, strerror(err),
           errno_name(err), hint);
  napi_throw_error(env, errno_name(err), message);
}

/* Throws for a failed Node-API call, unless that call already left an exception pending. */
static void throw_napi_failure(napi_env env, const char *call) {
  const napi_extended_error_info *info = NULL;
  napi_get_last_error_info(env, &info);
  bool pending = false;
  if (napi_is_exception_pending(env, &pending) == napi_ok && pending) return;
  char message[ERROR_MESSAGE_BYTES];
  snprintf(message, sizeof message, "af_packet: %s failed: %s", call,
           info != NULL && info->error_message != NULL ? info->error_message : "unknown error");
  napi_throw_error(env, NULL, message);
}

/* In functions called from JavaScript: on failure, throw and return NULL. */
#define NAPI_CALL(env, call)                                                                 \
  do {                                                                                       \
    if ((call) != napi_ok) {                                                                 \
      throw_napi_failure((env), #call);                                                      \
      return NULL;                                                                           \
    }                                                                                        \
  } while (0)

/* In libuv callbacks there is no caller to throw to: a failing Node-API call there is a bug or
 * an out-of-memory condition, so crash loudly with its location. */
#define NAPI_CHECK(call)                                                                     \
  do {                                                                                       \
    if ((call) != napi_ok) napi_fatal_error(__FILE__ ":" #call, NAPI_AUTO_LENGTH, NULL, 0);  \
  } while (0)

static void fatal(const char *message) {
  napi_fatal_error("af_packet", NAPI_AUTO_LENGTH, message, NAPI_AUTO_LENGTH);
}

/* ---- Opening ------------------------------------------------------------------------------ */

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

static uint32_t slot_bytes_for_mtu(int mtu) {
  uint64_t bytes = (uint64_t)(mtu > 0 ? mtu : 0) + SLOT_HEADER_BYTES;
  bytes = (bytes + 63) & ~(uint64_t)63;
  if (bytes < SLOT_BYTES_MIN) bytes = SLOT_BYTES_MIN;
  if (bytes > SLOT_BYTES_MAX) bytes = SLOT_BYTES_MAX;
  return (uint32_t)bytes;
}

static int read_mtu(int fd, const char *ifname, int *mtu) {
  struct ifreq ifr;
  memset(&ifr, 0, sizeof ifr);
  snprintf(ifr.ifr_name, sizeof ifr.ifr_name, "%s", ifname);
  if (ioctl(fd, SIOCGIFMTU, &ifr) != 0) return errno;
  *mtu = ifr.ifr_mtu;
  return 0;
}

/* Sets a socket buffer size, with the *FORCE variant first so that root may exceed
 * net.core.[rw]mem_max; the kernel doubles the value for its bookkeeping (socket(7)). */
static bool set_buffer_bytes(int fd, int force_option, int option, int bytes) {
  if (setsockopt(fd, SOL_SOCKET, force_option, &bytes, sizeof bytes) == 0) return true;
  if (errno != EPERM) return false;
  return setsockopt(fd, SOL_SOCKET, option, &bytes, sizeof bytes) == 0;
}

/* Creates and binds the socket in the calling thread's current network namespace. */
static bool open_here(Socket *s, int ethertype, int receive_buffer_bytes, OpenError *e) {
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
  if (!set_buffer_bytes(s->fd, SO_RCVBUFFORCE, SO_RCVBUF, receive_buffer_bytes)) {
    return open_failed(e, errno, "setsockopt(SO_RCVBUF)");
  }
  if (!set_buffer_bytes(s->fd, SO_SNDBUFFORCE, SO_SNDBUF, SEND_BUFFER_BYTES)) {
    return open_failed(e, errno, "setsockopt(SO_SNDBUF)");
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
                          int receive_buffer_bytes, OpenError *e) {
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
    ok = open_here(s, ethertype, receive_buffer_bytes, e);
    /* Staying in the wrong namespace would silently send later sockets' traffic elsewhere. */
    if (setns(saved, CLONE_NEWNET) != 0) fatal("cannot return to the thread's network namespace");
  }
  close(saved);
  close(target);
  return ok;
}

/* ---- Polling ------------------------------------------------------------------------------ */

static void on_poll(uv_poll_t *poll, int status, int events);

/* Starts or stops the poll handle to match what the socket is waiting for. */
static void update_poll(Socket *s) {
  if (s->fd < 0) return;
  int events = (s->receiving ? UV_READABLE : 0) | (s->want_writable ? UV_WRITABLE : 0);
  if (events == s->poll_events) return;
  int err = events == 0 ? uv_poll_stop(s->poll) : uv_poll_start(s->poll, events, on_poll);
  /* Both only fail for a handle that is closing or invalid: a bug here. */
  if (err != 0) fatal("uv_poll_start/stop failed");
  s->poll_events = events;
}

static void free_handle(uv_handle_t *handle) { free(handle); }

/* close(2) of a packet socket waits for an RCU grace period (synchronize_net() in
 * packet_release(), net/packet/af_packet.c), about 10 ms: too long for the event loop, so the
 * fd is closed on the libuv thread pool. */
typedef struct {
  uv_work_t work; /* first member: the callbacks cast back to CloseWork */
  int fd;
} CloseWork;

static void close_on_pool(uv_work_t *work) { close(((CloseWork *)work)->fd); }

static void close_done(uv_work_t *work, int status) { free(work); }

/* Closes the fd and the libuv handles; no Node-API calls (also used from the finalizer, at
 * environment teardown, when `background` is false because the loop may not run again). */
static void shutdown_io(Socket *s, bool background) {
  if (s->fd < 0) return;
  /* uv_close stops the poll and removes the fd from epoll before the fd is closed. */
  uv_close((uv_handle_t *)s->poll, free_handle);
  uv_close((uv_handle_t *)s->retry_timer, free_handle);
  s->poll = NULL;
  s->retry_timer = NULL;
  CloseWork *work = background ? malloc(sizeof *work) : NULL;
  if (work != NULL) {
    work->fd = s->fd;
    if (uv_queue_work(s->loop, &work->work, close_on_pool, close_done) != 0) {
      free(work);
      work = NULL;
    }
  }
  if (work == NULL) close(s->fd);
  s->fd = -1;
  s->poll_events = 0;
}

static void delete_ref(napi_env env, napi_ref *ref) {
  if (*ref == NULL) return;
  NAPI_CHECK(napi_delete_reference(env, *ref));
  *ref = NULL;
}

/* Releases the JavaScript references of a closed socket; runs outside any callback of it. */
static void release_js(Socket *s) {
  s->release_pending = false;
  delete_ref(s->env, &s->on_frames);
  delete_ref(s->env, &s->on_writable);
  delete_ref(s->env, &s->spare_ref);
  s->spare_data = NULL;
  delete_ref(s->env, &s->lengths_ref);
  s->lengths = NULL;
  if (s->async_context != NULL) {
    NAPI_CHECK(napi_async_destroy(s->env, s->async_context));
    s->async_context = NULL;
  }
  /* Last: once `self` is gone, V8 may finalize the handle and free this struct. */
  delete_ref(s->env, &s->self);
}

static void free_socket(Socket *s) {
  free(s->recv_msgs);
  free(s->recv_iovs);
  free(s->send_msgs);
  free(s->send_iovs);
  free(s);
}

static void enter_callback(Socket *s) { s->busy += 1; }

static void leave_callback(Socket *s) {
  s->busy -= 1;
  if (s->busy > 0) return;
  if (s->release_pending) release_js(s);
  if (s->finalized) free_socket(s);
}

/* Finalizer of the handle: normally after close(); at environment teardown possibly before. */
static void finalize_socket(napi_env env, void *data, void *hint) {
  Socket *s = data;
  shutdown_io(s, false);
  int64_t adjusted = 0;
  /* Only accounting: a failure here changes nothing else. */
  (void)napi_adjust_external_memory(env, -s->native_bytes, &adjusted);
  s->finalized = true;
  if (s->busy == 0) free_socket(s);
}

/* Calls a JavaScript callback as an event from the loop: with the socket's async context, so
 * that process.nextTick callbacks and promise continuations queued by it run right after it.
 * An exception thrown by the callback becomes an uncaught exception, as for any event handler. */
static void call_js(Socket *s, napi_ref fn_ref, size_t argc, const napi_value *argv) {
  if (fn_ref == NULL) return;
  napi_env env = s->env;
  napi_value fn, global, result;
  NAPI_CHECK(napi_get_reference_value(env, fn_ref, &fn));
  NAPI_CHECK(napi_get_global(env, &global));
  napi_status status = napi_make_callback(env, s->async_context, global, fn, argc, argv, &result);
  if (status == napi_ok) return;
  bool pending = false;
  NAPI_CHECK(napi_is_exception_pending(env, &pending));
  if (!pending) fatal("napi_make_callback failed without an exception");
  napi_value exception;
  NAPI_CHECK(napi_get_and_clear_last_exception(env, &exception));
  NAPI_CHECK(napi_fatal_exception(env, exception));
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
  }
  napi_value argv[3];
  argv[0] = buffer;
  NAPI_CHECK(napi_create_uint32(env, (uint32_t)n, &argv[1]));
  NAPI_CHECK(napi_create_uint32(env, (uint32_t)slot, &argv[2]));
  call_js(s, s->on_frames, 3, argv);
  return n;
}

/* Drains the socket, at most BATCHES_PER_EVENT_MAX batches; the poll fires again if more is
 * left (it is level-triggered). */
static void receive(Socket *s) {
  /* The slot follows the MTU, which can change at any time; one ioctl per readable event. */
  int mtu = 0;
  if (read_mtu(s->fd, s->ifname, &mtu) == 0) s->slot_bytes = slot_bytes_for_mtu(mtu);
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

static void on_retry_timer(uv_timer_t *timer) {
  Socket *s = timer->data;
  enter_callback(s);
  napi_handle_scope scope;
  NAPI_CHECK(napi_open_handle_scope(s->env, &scope));
  call_js(s, s->on_writable, 0, NULL);
  NAPI_CHECK(napi_close_handle_scope(s->env, scope));
  leave_callback(s);
}

/* ---- JavaScript functions ----------------------------------------------------------------- */

/* Gets `count` arguments and the open socket from argv[0]; NULL (with an exception) if the
 * handle is wrong or, when `must_be_open`, the socket is closed. */
static Socket *socket_args(napi_env env, napi_callback_info info, size_t count, napi_value *argv,
                           bool must_be_open) {
  size_t argc = count;
  NAPI_CALL(env, napi_get_cb_info(env, info, &argc, argv, NULL, NULL));
  if (argc < count) {
    napi_throw_type_error(env, NULL, "af_packet: missing arguments");
    return NULL;
  }
  void *data = NULL;
  napi_valuetype type;
  NAPI_CALL(env, napi_typeof(env, argv[0], &type));
  if (type != napi_external) {
    napi_throw_type_error(env, NULL, "af_packet: not a socket handle");
    return NULL;
  }
  NAPI_CALL(env, napi_get_value_external(env, argv[0], &data));
  Socket *s = data;
  if (must_be_open && s->fd < 0) {
    char message[ERROR_MESSAGE_BYTES];
    snprintf(message, sizeof message, "af_packet: socket on %s is closed", s->ifname);
    napi_throw_error(env, "ECLOSED", message);
    return NULL;
  }
  return s;
}

static bool get_uint32_arg(napi_env env, napi_value value, uint32_t min, uint32_t max,
                           const char *name, uint32_t *out) {
  if (napi_get_value_uint32(env, value, out) != napi_ok || *out < min || *out > max) {
    char message[ERROR_MESSAGE_BYTES];
    snprintf(message, sizeof message, "af_packet: %s must be an integer in [%u, %u]", name, min,
             max);
    napi_throw_range_error(env, NULL, message);
    return false;
  }
  return true;
}

static bool is_function(napi_env env, napi_value value) {
  napi_valuetype type;
  return napi_typeof(env, value, &type) == napi_ok && type == napi_function;
}

static napi_value js_open(napi_env env, napi_callback_info info) {
  size_t argc = 7;
  napi_value argv[7];
  NAPI_CALL(env, napi_get_cb_info(env, info, &argc, argv, NULL, NULL));
  if (argc < 7 || !is_function(env, argv[5]) || !is_function(env, argv[6])) {
    napi_throw_type_error(env, NULL,
                          "af_packet: open(ifname, ethertype, netnsPath, batchFrames, "
                          "receiveBufferBytes, onFrames, onWritable)");
    return NULL;
  }
  char ifname[IFNAMSIZ + 1];
  size_t ifname_len = 0;
  if (napi_get_value_string_utf8(env, argv[0], ifname, sizeof ifname, &ifname_len) != napi_ok ||
      ifname_len == 0 || ifname_len >= IFNAMSIZ) {
    napi_throw_type_error(env, NULL, "af_packet: ifname must be a string of 1 to 15 bytes");
    return NULL;
  }
  uint32_t ethertype, batch_frames, receive_buffer_bytes;
  if (!get_uint32_arg(env, argv[1], 0, 0xffff, "ethertype", &ethertype) ||
      !get_uint32_arg(env, argv[3], 1, BATCH_FRAMES_MAX, "batchFrames", &batch_frames) ||
      !get_uint32_arg(env, argv[4], 4096, RECEIVE_BUFFER_BYTES_MAX, "receiveBufferBytes",
                      &receive_buffer_bytes)) {
    return NULL;
  }
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
  memcpy(s->ifname, ifname, ifname_len + 1);
  s->recv_msgs = calloc(batch_frames, sizeof *s->recv_msgs);
  s->recv_iovs = calloc(batch_frames, sizeof *s->recv_iovs);
  s->send_msgs = calloc(SEND_CHUNK_FRAMES, sizeof *s->send_msgs);
  s->send_iovs = calloc(SEND_CHUNK_FRAMES, sizeof *s->send_iovs);
  s->poll = malloc(sizeof *s->poll);
  s->retry_timer = malloc(sizeof *s->retry_timer);
  if (s->recv_msgs == NULL || s->recv_iovs == NULL || s->send_msgs == NULL ||
      s->send_iovs == NULL || s->poll == NULL || s->retry_timer == NULL) {
    free(s->poll);
    free(s->retry_timer);
    free_socket(s);
    throw_errno(env, ENOMEM, "allocating a socket");
    return NULL;
  }

  OpenError open_error = {0};
  bool opened = has_netns ? open_in_netns(s, netns_path, (int)ethertype,
                                          (int)receive_buffer_bytes, &open_error)
                          : open_here(s, (int)ethertype, (int)receive_buffer_bytes, &open_error);
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

  /* From here on the handle's finalizer owns `s`; failures close the socket and throw. */
  napi_value handle, resource, name, lengths_buffer, lengths, result;
  if (napi_create_external(env, s, finalize_socket, NULL, &handle) != napi_ok) {
    shutdown_io(s, false);
    free_socket(s);
    throw_napi_failure(env, "napi_create_external");
    return NULL;
  }
  void *lengths_data = NULL;
  const int64_t native_bytes =
      (int64_t)(sizeof *s + batch_frames * (sizeof *s->recv_msgs + sizeof *s->recv_iovs) +
                SEND_CHUNK_FRAMES * (sizeof *s->send_msgs + sizeof *s->send_iovs));
  int64_t adjusted = 0;
  bool ok = napi_adjust_external_memory(env, native_bytes, &adjusted) == napi_ok;
  if (ok) s->native_bytes = native_bytes;
  ok = ok &&
      napi_create_reference(env, handle, 1, &s->self) == napi_ok &&
      napi_create_reference(env, argv[5], 1, &s->on_frames) == napi_ok &&
      napi_create_reference(env, argv[6], 1, &s->on_writable) == napi_ok &&
      napi_create_object(env, &resource) == napi_ok &&
      napi_create_string_utf8(env, "af_packet", NAPI_AUTO_LENGTH, &name) == napi_ok &&
      napi_async_init(env, resource, name, &s->async_context) == napi_ok &&
      /* An ArrayBuffer's backing store never moves, so the pointer stays valid. */
      napi_create_arraybuffer(env, batch_frames * sizeof(uint32_t), &lengths_data,
                              &lengths_buffer) == napi_ok &&
      napi_create_reference(env, lengths_buffer, 1, &s->lengths_ref) == napi_ok &&
      napi_create_typedarray(env, napi_uint32_array, batch_frames, lengths_buffer, 0,
                             &lengths) == napi_ok &&
      napi_create_object(env, &result) == napi_ok &&
      napi_set_named_property(env, result, "handle", handle) == napi_ok &&
      napi_set_named_property(env, result, "lengths", lengths) == napi_ok;
  if (!ok) {
    throw_napi_failure(env, "creating the socket's JavaScript state");
    shutdown_io(s, true);
    release_js(s);
    return NULL;
  }
  s->lengths = lengths_data;
  return result;
}

static napi_value js_start_receiving(napi_env env, napi_callback_info info) {
  napi_value argv[1];
  Socket *s = socket_args(env, info, 1, argv, true);
  if (s == NULL) return NULL;
  s->receiving = true;
  update_poll(s);
  return NULL;
}

static napi_value js_send(napi_env env, napi_callback_info info) {
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

static napi_value js_mtu(napi_env env, napi_callback_info info) {
  napi_value argv[1];
  Socket *s = socket_args(env, info, 1, argv, true);
  if (s == NULL) return NULL;
  int mtu = 0;
  int err = read_mtu(s->fd, s->ifname, &mtu);
  if (err != 0) {
    char what[ERROR_MESSAGE_BYTES / 2];
    snprintf(what, sizeof what, "reading the MTU of %s", s->ifname);
    throw_errno(env, err, what);
    return NULL;
  }
  napi_value result;
  NAPI_CALL(env, napi_create_int32(env, mtu, &result));
  return result;
}

static napi_value js_mac(napi_env env, napi_callback_info info) {
  napi_value argv[1];
  Socket *s = socket_args(env, info, 1, argv, false);
  if (s == NULL) return NULL;
  napi_value result;
  void *copy = NULL;
  NAPI_CALL(env, napi_create_buffer_copy(env, ETH_ALEN, s->mac, &copy, &result));
  return result;
}

static bool set_number(napi_env env, napi_value object, const char *name, uint64_t value) {
  napi_value number;
  return napi_create_double(env, (double)value, &number) == napi_ok &&
         napi_set_named_property(env, object, name, number) == napi_ok;
}

static napi_value js_stats(napi_env env, napi_callback_info info) {
  napi_value argv[1];
  Socket *s = socket_args(env, info, 1, argv, false);
  if (s == NULL) return NULL;
  if (s->fd >= 0) {
    struct tpacket_stats st;
    socklen_t len = sizeof st;
    if (getsockopt(s->fd, SOL_PACKET, PACKET_STATISTICS, &st, &len) != 0) {
      throw_errno(env, errno, "getsockopt(PACKET_STATISTICS)");
      return NULL;
    }
    s->counters.kernel_drops += st.tp_drops;
  }
  const Counters *c = &s->counters;
  napi_value result, last_error;
  NAPI_CALL(env, napi_create_object(env, &result));
  if (!set_number(env, result, "framesReceived", c->frames_received) ||
      !set_number(env, result, "framesSent", c->frames_sent) ||
      !set_number(env, result, "sendErrors", c->send_errors) ||
      !set_number(env, result, "truncatedDrops", c->truncated_drops) ||
      !set_number(env, result, "receiveErrors", c->receive_errors) ||
      !set_number(env, result, "kernelDrops", c->kernel_drops)) {
    throw_napi_failure(env, "building stats");
    return NULL;
  }
  if (c->last_error != 0) {
    NAPI_CALL(env, napi_create_string_utf8(env, errno_name(c->last_error), NAPI_AUTO_LENGTH,
                                           &last_error));
  } else {
    NAPI_CALL(env, napi_get_null(env, &last_error));
  }
  NAPI_CALL(env, napi_set_named_property(env, result, "lastError", last_error));
  return result;
}

static napi_value set_referenced(napi_env env, napi_callback_info info, bool referenced) {
  napi_value argv[1];
  Socket *s = socket_args(env, info, 1, argv, false);
  if (s == NULL || s->fd < 0) return NULL;
  if (referenced) {
    uv_ref((uv_handle_t *)s->poll);
    uv_ref((uv_handle_t *)s->retry_timer);
  } else {
    uv_unref((uv_handle_t *)s->poll);
    uv_unref((uv_handle_t *)s->retry_timer);
  }
  return NULL;
}

static napi_value js_ref(napi_env env, napi_callback_info info) {
  return set_referenced(env, info, true);
}

static napi_value js_unref(napi_env env, napi_callback_info info) {
  return set_referenced(env, info, false);
}

static napi_value js_close(napi_env env, napi_callback_info info) {
  napi_value argv[1];
  Socket *s = socket_args(env, info, 1, argv, false);
  if (s == NULL || s->fd < 0) return NULL;
  /* Final drop count, before the fd goes. */
  struct tpacket_stats st;
  socklen_t len = sizeof st;
  if (getsockopt(s->fd, SOL_PACKET, PACKET_STATISTICS, &st, &len) == 0) {
    s->counters.kernel_drops += st.tp_drops;
  }
  shutdown_io(s, true);
  if (s->busy > 0) {
    s->release_pending = true; /* inside one of this socket's callbacks: release on return */
  } else {
    release_js(s);
  }
  return NULL;
}

/* ---- Module ------------------------------------------------------------------------------- */

static napi_value init(napi_env env, napi_value exports) {
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
  };
  NAPI_CALL(env, napi_define_properties(env, exports, sizeof functions / sizeof functions[0],
                                        functions));
  return exports;
}

NAPI_MODULE(NODE_GYP_MODULE_NAME, init)
