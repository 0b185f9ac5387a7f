/* af_packet: what a socket reports about its interface and itself: mtu(), mac(), stats(). */
#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <sys/ioctl.h>

#include <linux/if_packet.h>

#include "af-packet.h"

/* SIOCGIFMTU; returns 0 or an errno. */
int read_mtu(int fd, const char *ifname, int *mtu) {
  struct ifreq ifr;
  memset(&ifr, 0, sizeof ifr);
  snprintf(ifr.ifr_name, sizeof ifr.ifr_name, "%s", ifname);
  if (ioctl(fd, SIOCGIFMTU, &ifr) != 0) return errno;
  *mtu = ifr.ifr_mtu;
  return 0;
}

napi_value js_mtu(napi_env env, napi_callback_info info) {
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

napi_value js_mac(napi_env env, napi_callback_info info) {
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

napi_value js_stats(napi_env env, napi_callback_info info) {
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
      !set_number(env, result, "kernelDrops", c->kernel_drops) ||
      !set_number(env, result, "fastPathSendDrops", c->fast_send_drops)) {
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
