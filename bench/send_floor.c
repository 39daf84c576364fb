/*
 * The kernel's floor for the gateway's media edge: what sending one 20 ms AudioSocket frame to each
 * of N TCP connections costs, with nothing else done (no Python, no parsing, no VAD).
 *
 * The same schedule as porteiro_gateway/_media.c: 10 phases of 2 ms, clock_nanosleep to absolute
 * deadlines, one send per connection per 20 ms, and (with `read` = 1) one recv per connection
 * every 40 ms. Prints this thread's CPU after a warm-up second. Built and run by
 * bench/bench_send_floor.py; usage: send_floor PORT CALLS SECONDS READ CPU
 */
#define _GNU_SOURCE
#include <arpa/inet.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <sched.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

static double thread_cpu(void) {
    struct timespec t;
    clock_gettime(CLOCK_THREAD_CPUTIME_ID, &t);
    return (double)t.tv_sec + (double)t.tv_nsec / 1e9;
}

int main(int argc, char **argv) {
    if (argc != 6) {
        fprintf(stderr, "usage: send_floor PORT CALLS SECONDS READ CPU\n");
        return 2;
    }
    int port = atoi(argv[1]), calls = atoi(argv[2]), seconds = atoi(argv[3]), reading = atoi(argv[4]);
    cpu_set_t cpus;
    CPU_ZERO(&cpus);
    CPU_SET(atoi(argv[5]), &cpus);
    sched_setaffinity(0, sizeof cpus, &cpus);
    int *fds = calloc((size_t)calls, sizeof(int)), one = 1;
    struct sockaddr_in peer = {.sin_family = AF_INET, .sin_port = htons((uint16_t)port)};
    peer.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    for (int i = 0; i < calls; i++) {
        fds[i] = socket(AF_INET, SOCK_STREAM, 0);
        if (connect(fds[i], (struct sockaddr *)&peer, sizeof peer) < 0) {
            perror("connect");
            return 1;
        }
        setsockopt(fds[i], IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
    }
    unsigned char frame[323] = {0x10, 0x01, 0x40}, chunk[8192];
    struct timespec now;
    clock_gettime(CLOCK_MONOTONIC, &now);
    long long start = (long long)now.tv_sec * 1000000000LL + now.tv_nsec;
    long phases = 10, warm_up = 500, steps = warm_up + (long)seconds * 500;
    double began = 0;
    for (long step = 0; step < steps; step++) {
        long long deadline = start + step * 2000000LL;
        struct timespec at = {deadline / 1000000000LL, deadline % 1000000000LL};
        clock_nanosleep(CLOCK_MONOTONIC, TIMER_ABSTIME, &at, NULL);
        if (step == warm_up) began = thread_cpu();
        int read_now = reading && (step / phases) % 2 == 1;
        for (int i = (int)(step % phases); i < calls; i += (int)phases) {
            if (read_now) recv(fds[i], chunk, sizeof chunk, MSG_DONTWAIT);
            send(fds[i], frame, sizeof frame, MSG_DONTWAIT | MSG_NOSIGNAL);
        }
    }
    double used = thread_cpu() - began;
    printf("%.6f\n", used);
    return 0;
}
