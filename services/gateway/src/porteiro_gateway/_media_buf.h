/* Growable byte buffers of the native media edge (_media.c) and its endpointer (_endpointer.c). */
#ifndef PORTEIRO_MEDIA_BUF_H
#define PORTEIRO_MEDIA_BUF_H

#include <stdlib.h>
#include <string.h>

typedef struct {
    unsigned char *data;
    size_t start, len, cap; /* live bytes are data[start : start + len] */
} Buf;

static inline int buf_append(Buf *b, const unsigned char *src, size_t n) {
    if (b->start && b->start + b->len + n > b->cap) { /* move to the front before growing */
        memmove(b->data, b->data + b->start, b->len);
        b->start = 0;
    }
    if (b->start + b->len + n > b->cap) {
        size_t cap = b->cap ? b->cap : 1024;
        while (cap < b->len + n) cap *= 2;
        unsigned char *grown = realloc(b->data, cap);
        if (!grown) return -1;
        b->data = grown;
        b->cap = cap;
    }
    memcpy(b->data + b->start + b->len, src, n);
    b->len += n;
    return 0;
}

static inline void buf_consume(Buf *b, size_t n) {
    b->start += n;
    b->len -= n;
    if (!b->len) b->start = 0;
}

static inline void buf_free(Buf *b) {
    free(b->data);
    memset(b, 0, sizeof *b);
}

#endif
