/* af_packet: a socket's lifetime. Calling JavaScript from libuv callbacks (re-entrancy guard),
 * close() and the fd closed off the loop, ref()/unref(), releasing the JavaScript references,
 * and the handle's finalizer that frees the struct. */
#include <stdlib.h>
#include <unistd.h>

#include <linux/if_packet.h>

#include "af-packet.h"

struct EnvState {
  Socket *open; /* sockets whose fd is open */
  int pending;  /* uv_close callbacks and pool closes not yet run */
  napi_async_cleanup_hook_handle teardown; /* set while the environment waits for `pending` */
};

static void settle(EnvState *st) {
  st->pending -= 1;
  if (st->pending == 0 && st->teardown != NULL) {
    napi_async_cleanup_hook_handle hook = st->teardown;
    st->teardown = NULL;
    NAPI_CHECK(napi_remove_async_cleanup_hook(hook));
  }
}

/* After uv_close, handle->data is the environment's state (no more socket callbacks). */
static void free_handle(uv_handle_t *handle) {
  EnvState *st = handle->data;
  free(handle);
  settle(st);
}

/* The environment is ending: close what is still open, then wait for the closes to finish. */
static void on_env_teardown(napi_async_cleanup_hook_handle hook, void *data) {
  EnvState *st = data;
  while (st->open != NULL) shutdown_io(st->open, false);
  if (st->pending == 0) {
    NAPI_CHECK(napi_remove_async_cleanup_hook(hook));
  } else {
    st->teardown = hook;
  }
}

static void free_env_state(napi_env env, void *data, void *hint) { free(data); }

/* Called once per environment, when the module is loaded into it. */
bool init_env_state(napi_env env) {
  EnvState *st = calloc(1, sizeof *st);
  if (st == NULL) return false;
  if (napi_set_instance_data(env, st, free_env_state, NULL) != napi_ok) {
    free(st);
    return false;
  }
  return napi_add_async_cleanup_hook(env, on_env_teardown, st, NULL) == napi_ok;
}

/* Adds a socket whose fd and libuv handles are now open to its environment's list. */
void track_open_socket(Socket *s) {
  void *data = NULL;
  NAPI_CHECK(napi_get_instance_data(s->env, &data));
  EnvState *st = data;
  s->env_state = st;
  s->prev_open = NULL;
  s->next_open = st->open;
  if (st->open != NULL) st->open->prev_open = s;
  st->open = s;
}

static void untrack_open_socket(Socket *s) {
  EnvState *st = s->env_state;
  if (st == NULL) return;
  if (s->prev_open != NULL) s->prev_open->next_open = s->next_open;
  else st->open = s->next_open;
  if (s->next_open != NULL) s->next_open->prev_open = s->prev_open;
  s->next_open = s->prev_open = NULL;
}

/* close(2) of a packet socket waits for an RCU grace period (synchronize_net() in
 * packet_release(), net/packet/af_packet.c), about 10 ms: too long for the event loop, so the
 * fd is closed on the libuv thread pool. */
typedef struct {
  uv_work_t work; /* first member: the callbacks cast back to CloseWork */
  int fd;
  EnvState *env_state;
} CloseWork;

static void close_on_pool(uv_work_t *work) { close(((CloseWork *)work)->fd); }

static void close_done(uv_work_t *work, int status) {
  EnvState *st = ((CloseWork *)work)->env_state;
  free(work);
  settle(st);
}

/* Closes the fd and the libuv handles; no Node-API calls (also used from the finalizer, at
 * environment teardown, when `background` is false because the loop may not run again). */
void shutdown_io(Socket *s, bool background) {
  if (s->fd < 0) return;
  EnvState *st = s->env_state;
  untrack_open_socket(s);
  /* uv_close stops the poll and removes the fd from epoll before the fd is closed. */
  s->poll->data = st;
  s->retry_timer->data = st;
  st->pending += 2;
  uv_close((uv_handle_t *)s->poll, free_handle);
  uv_close((uv_handle_t *)s->retry_timer, free_handle);
  s->poll = NULL;
  s->retry_timer = NULL;
  CloseWork *work = background ? malloc(sizeof *work) : NULL;
  if (work != NULL) {
    work->fd = s->fd;
    work->env_state = st;
    st->pending += 1;
    if (uv_queue_work(s->loop, &work->work, close_on_pool, close_done) != 0) {
      st->pending -= 1;
      free(work);
      work = NULL;
    }
  }
  if (work == NULL) close(s->fd);
  s->fd = -1;
  s->poll_events = 0;
}

void delete_ref(napi_env env, napi_ref *ref) {
  if (*ref == NULL) return;
  NAPI_CHECK(napi_delete_reference(env, *ref));
  *ref = NULL;
}

/* Releases the JavaScript references of a closed socket; runs outside any callback of it. */
void release_js(Socket *s) {
  s->release_pending = false;
  delete_ref(s->env, &s->on_frames);
  delete_ref(s->env, &s->on_writable);
  delete_ref(s->env, &s->spare_ref);
  s->spare_data = NULL;
  delete_ref(s->env, &s->lengths_ref);
  s->lengths = NULL;
  s->infos = NULL;
  if (s->async_context != NULL) {
    NAPI_CHECK(napi_async_destroy(s->env, s->async_context));
    s->async_context = NULL;
  }
  /* Last: once `self` is gone, V8 may finalize the handle and free this struct. */
  delete_ref(s->env, &s->self);
}

void free_socket(Socket *s) {
  free(s->recv_msgs);
  free(s->recv_iovs);
  free(s->recv_addrs);
  free(s->recv_control);
  free(s->send_msgs);
  free(s->send_iovs);
  free_fast_table(s);
  free(s);
}

void enter_callback(Socket *s) { s->busy += 1; }

void leave_callback(Socket *s) {
  s->busy -= 1;
  if (s->busy > 0) return;
  if (s->release_pending) release_js(s);
  if (s->finalized) free_socket(s);
}

/* Finalizer of the handle: normally after close(); at environment teardown possibly before. */
void finalize_socket(napi_env env, void *data, void *hint) {
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
void call_js(Socket *s, napi_ref fn_ref, size_t argc, const napi_value *argv) {
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

napi_value js_ref(napi_env env, napi_callback_info info) {
  return set_referenced(env, info, true);
}

napi_value js_unref(napi_env env, napi_callback_info info) {
  return set_referenced(env, info, false);
}

napi_value js_close(napi_env env, napi_callback_info info) {
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
