#define _GNU_SOURCE
/*
 * System calls Node does not offer (src/native/io-addon.ts loads this).
 *
 * sendfile(2) for Kafka fetch answers: record batches go from the page cache to the socket
 * without passing through the process (what Kafka's broker does through Java's transferTo).
 *
 *   dup(fd) -> fd                  a descriptor of our own, so the bytes stay readable even if
 *                                  the log closes or deletes the segment before the send
 *   close(fd)
 *   sendFile(socketFd, head, fileFd, position, length, callback(errno, headSent, fileSent))
 *
 *   sendFileCached(socketFd, head, fileFd, position, length) -> [errno, headSent, fileSent] | null
 *
 * sendFile writes `head` (the answer's bytes before the range, or an empty Buffer), then the
 * file range, on libuv's thread pool, so a read from disk never blocks the event loop. It never
 * waits for the socket: it stops at EAGAIN (the socket's buffer is full) and reports what it
 * sent; the caller sends the rest through the socket's own writes. The socket descriptor is
 * duplicated before the work is queued and closed after it, so a connection closed meanwhile
 * cannot let its descriptor number be reused under the send. `head` is kept referenced until
 * the work completes. sendFileCached does the same work on the calling thread when cachestat(2)
 * finds every page of the range in the page cache (null, nothing sent, when it does not).
 *
 *   readCached(fd, buffer, position) -> bytes read, or -1
 *
 * A read on the calling thread that never waits for the disk (preadv2 with RWF_NOWAIT): the
 * event loop reads what the page cache holds without a trip to the thread pool.
 */
#include <errno.h>
#include <fcntl.h>
#include <node_api.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdlib.h>
#include <sys/sendfile.h>
#include <sys/socket.h>
#include <sys/syscall.h>
#include <sys/uio.h>
#include <unistd.h>

#ifndef __NR_cachestat
#define __NR_cachestat 451
#endif

struct cachestat_range {
  uint64_t off;
  uint64_t len;
};

struct cachestat {
  uint64_t nr_cache;
  uint64_t nr_dirty;
  uint64_t nr_writeback;
  uint64_t nr_evicted;
  uint64_t nr_recently_evicted;
};

typedef struct {
  napi_async_work work;
  napi_ref callback;
  napi_ref head_ref;
  const char* head;
  size_t head_length;
  size_t head_sent;
  int socket_fd;
  int file_fd;
  int64_t position;
  int64_t length;
  int64_t sent;
  int error;
} SendWork;

static napi_value throw_errno(napi_env env, const char* what, int error) {
  napi_value message, code, err;
  napi_create_string_utf8(env, what, NAPI_AUTO_LENGTH, &message);
  napi_create_int32(env, error, &code);
  napi_create_error(env, NULL, message, &err);
  napi_set_named_property(env, err, "errno", code);
  napi_throw(env, err);
  return NULL;
}

static int int32_arg(napi_env env, napi_value value, int32_t* out) {
  return napi_get_value_int32(env, value, out) == napi_ok;
}

/* The one argument of dup and close: a descriptor, or -1 when it is not one. */
static int32_t fd_arg(napi_env env, napi_callback_info info) {
  size_t argc = 1;
  napi_value argv[1];
  int32_t fd;
  napi_get_cb_info(env, info, &argc, argv, NULL, NULL);
  return argc >= 1 && int32_arg(env, argv[0], &fd) && fd >= 0 ? fd : -1;
}

static napi_value Dup(napi_env env, napi_callback_info info) {
  int32_t fd = fd_arg(env, info);
  if (fd < 0) return throw_errno(env, "dup", EBADF);
  int copy = fcntl(fd, F_DUPFD_CLOEXEC, 0);
  if (copy < 0) return throw_errno(env, "dup", errno);
  napi_value result;
  napi_create_int32(env, copy, &result);
  return result;
}

static napi_value Close(napi_env env, napi_callback_info info) {
  int32_t fd = fd_arg(env, info);
  if (fd < 0) return throw_errno(env, "close", EBADF);
  /* Linux releases the descriptor even when close reports EINTR: never retry. */
  if (close(fd) < 0 && errno != EINTR) return throw_errno(env, "close", errno);
  return NULL;
}

/*
 * readCached(fd, buffer, position) -> bytes read, or -1.
 * preadv2 with RWF_NOWAIT never waits for the disk: it reads what the page cache holds from
 * `position` on (fewer bytes than asked when only the start is there; 0 at end of file) and
 * fails with EAGAIN when the first page is not there. Any failure gives -1: the caller then
 * reads the usual way, which waits for the disk and reports errors as Node does.
 */
static napi_value ReadCached(napi_env env, napi_callback_info info) {
  size_t argc = 3;
  napi_value argv[3];
  int32_t fd;
  int64_t position;
  void* data;
  size_t length;
  bool is_buffer = false;
  napi_get_cb_info(env, info, &argc, argv, NULL, NULL);
  if (argc < 3 || !int32_arg(env, argv[0], &fd) ||
      napi_is_buffer(env, argv[1], &is_buffer) != napi_ok || !is_buffer ||
      napi_get_buffer_info(env, argv[1], &data, &length) != napi_ok ||
      napi_get_value_int64(env, argv[2], &position) != napi_ok) {
    return throw_errno(env, "readCached arguments", EINVAL);
  }
  ssize_t n = -1;
  if (fd >= 0 && position >= 0) {
    struct iovec vector = {data, length};
    do {
      n = preadv2(fd, &vector, 1, (off_t)position, RWF_NOWAIT);
    } while (n < 0 && errno == EINTR);
  }
  napi_value result;
  napi_create_int64(env, n < 0 ? -1 : (int64_t)n, &result);
  return result;
}

/* Sends the head, then the range, until done, an error, or a full socket (EAGAIN). */
static void send_head_and_range(SendWork* w) {
  while (w->head_sent < w->head_length) {
    /* MSG_MORE: the head and the file's first bytes leave in full segments. */
    ssize_t n = send(w->socket_fd, w->head + w->head_sent, w->head_length - w->head_sent,
                     MSG_MORE | MSG_NOSIGNAL);
    if (n < 0) {
      if (errno == EINTR) continue;
      if (errno != EAGAIN) w->error = errno;
      break;
    }
    w->head_sent += (size_t)n;
  }
  off_t offset = (off_t)w->position;
  while (w->error == 0 && w->head_sent == w->head_length && w->sent < w->length) {
    ssize_t n = sendfile(w->socket_fd, w->file_fd, &offset, (size_t)(w->length - w->sent));
    if (n < 0) {
      if (errno == EINTR) continue;
      if (errno != EAGAIN) w->error = errno;
      break;
    }
    if (n == 0) break; /* the file ends early: the caller reports it */
    w->sent += n;
  }
}

static void execute_send(napi_env env, void* data) {
  (void)env;
  SendWork* w = data;
  send_head_and_range(w);
  close(w->socket_fd);
}

static void complete_send(napi_env env, napi_status status, void* data) {
  SendWork* w = data;
  napi_value callback, global, argv[3];
  napi_get_reference_value(env, w->callback, &callback);
  napi_get_global(env, &global);
  napi_create_int32(env, status == napi_ok ? w->error : ECANCELED, &argv[0]);
  napi_create_int64(env, (int64_t)w->head_sent, &argv[1]);
  napi_create_int64(env, w->sent, &argv[2]);
  napi_delete_reference(env, w->callback);
  napi_delete_reference(env, w->head_ref);
  napi_delete_async_work(env, w->work);
  free(w);
  napi_call_function(env, global, callback, 3, argv, NULL);
}

/*
 * The arguments both sends share: (socketFd, head, fileFd, position, length), into `w`, with
 * `w->socket_fd` the caller's own descriptor. False when any is not what it should be.
 */
static bool send_args(napi_env env, napi_value* argv, SendWork* w) {
  int32_t socket_fd, file_fd;
  void* head;
  bool is_buffer = false;
  if (!int32_arg(env, argv[0], &socket_fd) ||
      napi_is_buffer(env, argv[1], &is_buffer) != napi_ok || !is_buffer ||
      napi_get_buffer_info(env, argv[1], &head, &w->head_length) != napi_ok ||
      !int32_arg(env, argv[2], &file_fd) ||
      napi_get_value_int64(env, argv[3], &w->position) != napi_ok ||
      napi_get_value_int64(env, argv[4], &w->length) != napi_ok || socket_fd < 0 ||
      file_fd < 0 || w->position < 0 || w->length < 0) {
    return false;
  }
  w->socket_fd = socket_fd;
  w->file_fd = file_fd;
  w->head = head;
  return true;
}

static napi_value SendFile(napi_env env, napi_callback_info info) {
  size_t argc = 6;
  napi_value argv[6];
  napi_valuetype type;
  SendWork args = {0};
  napi_get_cb_info(env, info, &argc, argv, NULL, NULL);
  if (argc < 6 || !send_args(env, argv, &args) || napi_typeof(env, argv[5], &type) != napi_ok ||
      type != napi_function) {
    return throw_errno(env, "sendFile arguments", EINVAL);
  }
  SendWork* w = calloc(1, sizeof(SendWork));
  if (w == NULL) return throw_errno(env, "sendFile", ENOMEM);
  *w = args;
  w->socket_fd = fcntl(args.socket_fd, F_DUPFD_CLOEXEC, 0);
  if (w->socket_fd < 0) {
    int error = errno;
    free(w);
    return throw_errno(env, "dup socket", error);
  }
  napi_value name;
  napi_create_string_utf8(env, "robustmq:sendfile", NAPI_AUTO_LENGTH, &name);
  napi_create_reference(env, argv[1], 1, &w->head_ref);
  napi_create_reference(env, argv[5], 1, &w->callback);
  napi_create_async_work(env, NULL, name, execute_send, complete_send, w, &w->work);
  napi_queue_async_work(env, w->work);
  return NULL;
}

/* Whether every page of the range is in the page cache (false when it cannot tell). */
static bool range_cached(int fd, int64_t position, int64_t length) {
  if (length == 0) return true;
  long page = sysconf(_SC_PAGESIZE);
  struct cachestat_range range = {(uint64_t)position, (uint64_t)length};
  struct cachestat stat;
  if (syscall(__NR_cachestat, fd, &range, &stat, 0) != 0) return false;
  uint64_t pages = (uint64_t)((position + length + page - 1) / page - position / page);
  return stat.nr_cache >= pages;
}

/*
 * sendFileCached(socketFd, head, fileFd, position, length) -> [errno, headSent, fileSent], or
 * null when some of the range is not in the page cache (or cachestat(2) is missing, before
 * Linux 6.5) or the socket would block. sendFile's work on the calling thread: with every page
 * cached, sendfile does not wait for the disk, and on a non-blocking socket it stops when the
 * socket's buffer is full, so it costs what a socket write of the same bytes costs (Node writes
 * to sockets on the event loop too), without the trip to the thread pool and the wake-ups it
 * takes. A page evicted between the check and the send is read from disk here: rare, and no
 * worse than a page fault.
 */
static napi_value SendFileCached(napi_env env, napi_callback_info info) {
  size_t argc = 5;
  napi_value argv[5];
  SendWork w = {0};
  napi_get_cb_info(env, info, &argc, argv, NULL, NULL);
  if (argc < 5 || !send_args(env, argv, &w)) {
    return throw_errno(env, "sendFileCached arguments", EINVAL);
  }
  napi_value result;
  int flags = fcntl(w.socket_fd, F_GETFL);
  if (flags < 0 || (flags & O_NONBLOCK) == 0 || !range_cached(w.file_fd, w.position, w.length)) {
    napi_get_null(env, &result);
    return result;
  }
  send_head_and_range(&w);
  napi_value values[3];
  napi_create_int32(env, w.error, &values[0]);
  napi_create_int64(env, (int64_t)w.head_sent, &values[1]);
  napi_create_int64(env, w.sent, &values[2]);
  napi_create_array_with_length(env, 3, &result);
  for (uint32_t i = 0; i < 3; i++) napi_set_element(env, result, i, values[i]);
  return result;
}

NAPI_MODULE_INIT() {
  napi_property_descriptor properties[] = {
      {"dup", NULL, Dup, NULL, NULL, NULL, napi_enumerable, NULL},
      {"close", NULL, Close, NULL, NULL, NULL, napi_enumerable, NULL},
      {"sendFile", NULL, SendFile, NULL, NULL, NULL, napi_enumerable, NULL},
      {"readCached", NULL, ReadCached, NULL, NULL, NULL, napi_enumerable, NULL},
      {"sendFileCached", NULL, SendFileCached, NULL, NULL, NULL, napi_enumerable, NULL},
  };
  napi_define_properties(env, exports, 5, properties);
  return exports;
}
