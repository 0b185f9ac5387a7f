/* af_packet: checking the arguments of the JavaScript functions. */
#include <stdio.h>

#include "af-packet.h"

/* Gets `count` arguments and the open socket from argv[0]; NULL (with an exception) if the
 * handle is wrong or, when `must_be_open`, the socket is closed. */
Socket *socket_args(napi_env env, napi_callback_info info, size_t count, napi_value *argv,
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

bool get_uint32_arg(napi_env env, napi_value value, uint32_t min, uint32_t max,
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

bool is_function(napi_env env, napi_value value) {
  napi_valuetype type;
  return napi_typeof(env, value, &type) == napi_ok && type == napi_function;
}
