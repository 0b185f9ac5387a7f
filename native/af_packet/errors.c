/* af_packet: errno names, JavaScript exceptions, and fatal errors for the program's own bugs. */
#include <errno.h>
#include <stdio.h>
#include <string.h>

#include "af-packet.h"

const char *errno_name(int err) {
  const char *name = strerrorname_np(err);
  return name != NULL ? name : "EUNKNOWN";
}

/* Throws `af_packet: <what>: <strerror> (<ENAME>)` with `code` = ENAME, plus a hint for the
 * errors a user can fix. */
void throw_errno(napi_env env, int err, const char *what) {
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
void throw_napi_failure(napi_env env, const char *call) {
  const napi_extended_error_info *info = NULL;
  napi_get_last_error_info(env, &info);
  bool pending = false;
  if (napi_is_exception_pending(env, &pending) == napi_ok && pending) return;
  char message[ERROR_MESSAGE_BYTES];
  snprintf(message, sizeof message, "af_packet: %s failed: %s", call,
           info != NULL && info->error_message != NULL ? info->error_message : "unknown error");
  napi_throw_error(env, NULL, message);
}

void fatal(const char *message) {
  napi_fatal_error("af_packet", NAPI_AUTO_LENGTH, message, NAPI_AUTO_LENGTH);
}
