/* Drop flood generator for `make bench-agent`: sends small UDP datagrams to a closed port on
 * 127.0.0.1 as fast as one thread can (sendmmsg, 64 per call) for a number of seconds. Every
 * datagram becomes one skb:kfree_skb NO_SOCKET drop in __udp4_lib_rcv, so the send rate is the
 * drop rate. Prints the number of datagrams the kernel accepted.
 * Usage: flood PORT SECONDS */
#define _GNU_SOURCE
#include <arpa/inet.h>
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#define BATCH 64

static double now(void) {
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return ts.tv_sec + ts.tv_nsec / 1e9;
}

int main(int argc, char **argv) {
  if (argc != 3) {
    fprintf(stderr, "usage: %s PORT SECONDS\n", argv[0]);
    return 2;
  }
  int port = atoi(argv[1]);
  double seconds = atof(argv[2]);
  int fd = socket(AF_INET, SOCK_DGRAM, 0);
  if (fd < 0) { perror("socket"); return 1; }
  struct sockaddr_in dst = { .sin_family = AF_INET, .sin_port = htons(port) };
  inet_pton(AF_INET, "127.0.0.1", &dst.sin_addr);
  char payload[16];
  memset(payload, 'x', sizeof payload);
  struct iovec iov = { .iov_base = payload, .iov_len = sizeof payload };
  struct mmsghdr msgs[BATCH];
  memset(msgs, 0, sizeof msgs);
  for (int i = 0; i < BATCH; i++) {
    msgs[i].msg_hdr.msg_name = &dst;
    msgs[i].msg_hdr.msg_namelen = sizeof dst;
    msgs[i].msg_hdr.msg_iov = &iov;
    msgs[i].msg_hdr.msg_iovlen = 1;
  }
  unsigned long long sent = 0;
  double end = now() + seconds, start = now();
  while (now() < end) {
    int n = sendmmsg(fd, msgs, BATCH, 0);
    if (n > 0) sent += (unsigned long long)n;
  }
  double took = now() - start;
  printf("%llu %.6f\n", sent, took);
  close(fd);
  return 0;
}
