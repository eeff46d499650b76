/* The kernel's floor under AudioHook-shaped traffic on this machine: what receiving the same
 * bytes costs with no WebSocket, no protocol and no runtime — one epoll loop, one read per
 * readiness, data thrown away.
 *
 *   cc -O2 -o tcp-frames tcp-frames.c && ./tcp-frames SESSIONS [SECONDS [RECV_BATCH_MS [SEND_BATCH_MS]]]
 *
 * A child process (the sender) opens SESSIONS TCP connections to the parent (the receiver) over
 * 127.0.0.1 and writes one 3 208-byte message (a 200 ms stereo PCMU frame in a masked WebSocket
 * binary frame) on each every 200 ms, the sessions spread evenly over the period as a ramp
 * spreads them. After a 3 s settle the receiver measures its own CPU (user + system) for
 * SECONDS and prints it, and the sender's, per session-second (the unit of
 * benches/audiohook-load.sh), with the reads per session-second. As there,
 * loopback charges the receiver for the ACKs it sends and for the sender socket's processing of
 * them. With RECV_BATCH_MS the receiver sleeps that long between polls, so one wake-up serves
 * every frame that arrived meanwhile; with SEND_BATCH_MS the sender writes every frame due
 * within that window at once (`hark stream`'s timer wheel batches at 1 ms).
 */
#define _GNU_SOURCE
#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#define FRAME_BYTES 3208
#define PERIOD_NS 200000000LL

static long long now_ns(void) {
  struct timespec t;
  clock_gettime(CLOCK_MONOTONIC, &t);
  return t.tv_sec * 1000000000LL + t.tv_nsec;
}

static double cpu_seconds(void) {
  struct rusage u;
  getrusage(RUSAGE_SELF, &u);
  return u.ru_utime.tv_sec + u.ru_stime.tv_sec + (u.ru_utime.tv_usec + u.ru_stime.tv_usec) / 1e6;
}

static void die(const char *what) {
  perror(what);
  exit(1);
}

/* utime + stime of process `pid`, seconds. */
static double process_cpu_seconds(pid_t pid) {
  char path[64], line[1024];
  snprintf(path, sizeof path, "/proc/%d/stat", pid);
  FILE *f = fopen(path, "r");
  if (!f || !fgets(line, sizeof line, f)) die("stat");
  fclose(f);
  char *p = strrchr(line, ')') + 2; /* after "pid (comm) " */
  unsigned long utime = 0, stime = 0;
  for (int field = 3; field <= 15; field++) {
    if (field == 14) utime = strtoul(p, NULL, 10);
    if (field == 15) stime = strtoul(p, NULL, 10);
    p = strchr(p, ' ') + 1;
  }
  return (double)(utime + stime) / sysconf(_SC_CLK_TCK);
}

static void sender(int port, int sessions, int batch_ms) {
  int *fds = calloc(sessions, sizeof(int));
  struct sockaddr_in addr = {.sin_family = AF_INET, .sin_port = htons(port)};
  addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  for (int i = 0; i < sessions; i++) {
    fds[i] = socket(AF_INET, SOCK_STREAM, 0);
    if (fds[i] < 0 || connect(fds[i], (struct sockaddr *)&addr, sizeof addr) < 0) die("connect");
    int one = 1;
    setsockopt(fds[i], IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
  }
  static char frame[FRAME_BYTES];
  memset(frame, 0x7f, sizeof frame);
  long long start = now_ns();
  for (long long tick = 0;; tick++) {
    /* Session i is due at start + i * PERIOD / sessions + k * PERIOD. */
    long long slot = tick % sessions, round = tick / sessions;
    long long due = start + round * PERIOD_NS + slot * PERIOD_NS / sessions;
    long long wait = due - now_ns();
    /* Batching: frames due within the batch window go out now, with one wake-up for all. */
    if (wait > batch_ms * 1000000LL) {
      struct timespec t = {wait / 1000000000LL, wait % 1000000000LL};
      nanosleep(&t, NULL);
    }
    if (write(fds[slot], frame, sizeof frame) < 0) exit(0);
  }
}

int main(int argc, char **argv) {
  if (argc < 2) {
    fprintf(stderr, "usage: %s SESSIONS [SECONDS]\n", argv[0]);
    return 2;
  }
  int sessions = atoi(argv[1]);
  int seconds = argc > 2 ? atoi(argv[2]) : 10;
  int batch_ms = argc > 3 ? atoi(argv[3]) : 0;
  int send_batch_ms = argc > 4 ? atoi(argv[4]) : 0;
  struct rlimit nofile = {sessions + 64, sessions + 64};
  setrlimit(RLIMIT_NOFILE, &nofile);

  int listener = socket(AF_INET, SOCK_STREAM, 0);
  struct sockaddr_in addr = {.sin_family = AF_INET, .sin_port = 0};
  addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  if (bind(listener, (struct sockaddr *)&addr, sizeof addr) < 0) die("bind");
  if (listen(listener, 4096) < 0) die("listen");
  socklen_t len = sizeof addr;
  getsockname(listener, (struct sockaddr *)&addr, &len);

  pid_t child = fork();
  if (child == 0) sender(ntohs(addr.sin_port), sessions, send_batch_ms);

  int ep = epoll_create1(0);
  for (int i = 0; i < sessions; i++) {
    int fd = accept4(listener, NULL, NULL, SOCK_NONBLOCK);
    if (fd < 0) die("accept");
    struct epoll_event ev = {.events = EPOLLIN, .data.fd = fd};
    epoll_ctl(ep, EPOLL_CTL_ADD, fd, &ev);
  }
  static char buf[8192];
  struct epoll_event events[256];
  long long settle = now_ns() + 3000000000LL, end = settle + seconds * 1000000000LL;
  double cpu0 = -1, sender0 = 0;
  long long reads = 0, bytes = 0;
  for (;;) {
    long long t = now_ns();
    if (cpu0 < 0 && t >= settle) {
      cpu0 = cpu_seconds();
      sender0 = process_cpu_seconds(child);
      reads = bytes = 0;
    }
    if (t >= end) break;
    if (batch_ms > 0) {
      struct timespec pause = {0, batch_ms * 1000000L};
      nanosleep(&pause, NULL);
    }
    int n = epoll_wait(ep, events, 256, 100);
    for (int i = 0; i < n; i++) {
      ssize_t got = read(events[i].data.fd, buf, sizeof buf);
      if (got > 0) {
        reads++;
        bytes += got;
      }
    }
  }
  double cpu = cpu_seconds() - cpu0;
  double sent = process_cpu_seconds(child) - sender0;
  kill(child, SIGKILL);
  waitpid(child, NULL, 0);
  double session_seconds = (double)sessions * seconds;
  printf("| %d | %d | %d | %.1f | %.1f | %.2f |\n", sessions, send_batch_ms, batch_ms, cpu / session_seconds * 1e6,
         sent / session_seconds * 1e6, (double)reads / session_seconds);
  return 0;
}
