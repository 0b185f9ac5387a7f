/*
 * nowait_io: preadv2/pwritev2 with RWF_NOWAIT (preadv2(2), Linux >= 4.14 for reads), so that the
 * AoE target can serve data that is already in the page cache inline, without a round trip through
 * libuv's thread pool, and still never wait for a disk: when the data is not at hand the kernel
 * answers EAGAIN at once and the caller falls back to the thread pool (fs.readv/fs.writev).
 *
 * Measured on the 2-core test machine (docs/benchmarks.md): the thread-pool round trip costs about
 * a fifth of the target's CPU per MB and halves its 4 KiB random IOPS. Plain Node-API in C.
 *
 * JavaScript interface (src/block/file/nowait-io.ts is the only caller):
 *   preadv(fd, buffers, position)  -> bytes read (may be short), or -1: would block
 *   pwritev(fd, buffers, position) -> bytes written (may be short), or -1: would block
 *   Both return -2 when the file or kernel does not support RWF_NOWAIT (EOPNOTSUPP, EINVAL).
 *   Other errors throw an Error whose `code` is the errno name.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <sys/uio.h>

#include <node_api.h>

#ifndef RWF_NOWAIT
#define RWF_NOWAIT 0x00000008 /* include/uapi/linux/fs.h */
#endif

enum {
  IOVECS_MAX = 1024,  /* UIO_MAXIOV */
  WOULD_BLOCK = -1,
  UNSUPPORTED = -2,
};

#define NAPI_CALL(env, call)                                                  \
  do {                                                                        \
    if ((call) != napi_ok) {                                                  \
      napi_throw_error((env), "EINVAL", "nowait_io: Node-API call failed: " #call); \
      return NULL;                                                            \
    }                                                                         \
  } while (0)

static napi_value throw_errno(napi_env env, const char *op, int err) {
  char message[160];
  snprintf(message, sizeof message, "nowait_io: %s: %s", op, strerror(err));
  const char *name = err == EIO ? "EIO" : err == ENOSPC ? "ENOSPC" : err == EBADF ? "EBADF"
                   : err == EFAULT ? "EFAULT" : err == EROFS ? "EROFS" : err == EDQUOT ? "EDQUOT"
                   : err == EFBIG ? "EFBIG" : err == EPERM ? "EPERM" : "EIO";
  napi_throw_error(env, name, message);
  return NULL;
}

/* Shared by both calls: (fd, Buffer[], position) -> iovecs; returns the count or -1 (thrown). */
static int read_args(napi_env env, napi_callback_info info, int *fd, struct iovec *iov, int64_t *position) {
  size_t argc = 3;
  napi_value argv[3];
  if (napi_get_cb_info(env, info, &argc, argv, NULL, NULL) != napi_ok || argc != 3) {
    napi_throw_type_error(env, "EINVAL", "nowait_io: expected (fd, buffers, position)");
    return -1;
  }
  uint32_t count = 0;
  bool is_array = false;
  if (napi_get_value_int32(env, argv[0], fd) != napi_ok || napi_is_array(env, argv[1], &is_array) != napi_ok ||
      !is_array || napi_get_array_length(env, argv[1], &count) != napi_ok ||
      napi_get_value_int64(env, argv[2], position) != napi_ok) {
    napi_throw_type_error(env, "EINVAL", "nowait_io: expected (fd: number, buffers: Buffer[], position: number)");
    return -1;
  }
  if (count == 0 || count > IOVECS_MAX || *position < 0) {
    napi_throw_range_error(env, "EINVAL", "nowait_io: 1 to 1024 buffers at a position >= 0");
    return -1;
  }
  for (uint32_t i = 0; i < count; i++) {
    napi_value element;
    bool is_buffer = false;
    if (napi_get_element(env, argv[1], i, &element) != napi_ok ||
        napi_is_buffer(env, element, &is_buffer) != napi_ok || !is_buffer ||
        napi_get_buffer_info(env, element, &iov[i].iov_base, &iov[i].iov_len) != napi_ok) {
      napi_throw_type_error(env, "EINVAL", "nowait_io: every element must be a Buffer");
      return -1;
    }
  }
  return (int)count;
}

static napi_value result(napi_env env, const char *op, ssize_t n) {
  napi_value value;
  if (n < 0) {
    int err = errno;
    if (err == EAGAIN || err == EINTR) n = WOULD_BLOCK;
    else if (err == EOPNOTSUPP || err == EINVAL || err == ENOSYS) n = UNSUPPORTED;
    else return throw_errno(env, op, err);
  }
  NAPI_CALL(env, napi_create_int64(env, (int64_t)n, &value));
  return value;
}

static napi_value preadv_nowait(napi_env env, napi_callback_info info) {
  struct iovec iov[IOVECS_MAX];
  int fd;
  int64_t position;
  int count = read_args(env, info, &fd, iov, &position);
  if (count < 0) return NULL;
  return result(env, "preadv2", preadv2(fd, iov, count, (off_t)position, RWF_NOWAIT));
}

static napi_value pwritev_nowait(napi_env env, napi_callback_info info) {
  struct iovec iov[IOVECS_MAX];
  int fd;
  int64_t position;
  int count = read_args(env, info, &fd, iov, &position);
  if (count < 0) return NULL;
  return result(env, "pwritev2", pwritev2(fd, iov, count, (off_t)position, RWF_NOWAIT));
}

static napi_value init(napi_env env, napi_value exports) {
  napi_property_descriptor properties[] = {
      {"preadv", NULL, preadv_nowait, NULL, NULL, NULL, napi_default, NULL},
      {"pwritev", NULL, pwritev_nowait, NULL, NULL, NULL, napi_default, NULL},
  };
  NAPI_CALL(env, napi_define_properties(env, exports, 2, properties));
  return exports;
}

NAPI_MODULE(NODE_GYP_MODULE_NAME, init)
