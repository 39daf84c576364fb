/*
 * porteiro_gateway._media: the gateway's media edge in one native thread (issue 21).
 *
 * Every leg's AudioSocket connection is read and written here, on the 20 ms playback schedule,
 * without the interpreter: at each 2 ms phase the thread wakes (clock_nanosleep to an absolute
 * deadline), and for the legs of that phase writes one frame (one send): the next frame Python
 * queued, or silence; in the cycle before Python's turn it also reads what arrived (one recv).
 * Python is woken once per `notify_every` phases through an eventfd and takes, for all legs at
 * once, what was read and what happened (`take`), then queues the next frames of the Says playing
 * (`push`). So Python runs once per tick for all legs, not once per frame per leg, and the
 * schedule does not wait for it.
 *
 * The thread never touches Python objects: it holds no GIL, only the engine's mutex, which
 * Python's calls take briefly. porteiro_gateway.media_engine wraps it; playback.PlaybackClock is
 * the pure-Python fallback with the same behaviour on the wire.
 */
#define PY_SSIZE_T_CLEAN
#include <Python.h>

#include <dlfcn.h>
#include <errno.h>
#include <math.h>
#include <pthread.h>
#include <stdint.h>
#include <string.h>
#include <sys/eventfd.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include "_endpointer.h"
#include "_media_buf.h"

#define MAX_BUCKETS 32
#define READ_CHUNK 8192
#define MAX_PENDING_INPUT (1 << 20) /* Python not taking input: stop reading (TCP pushes back) */

enum { OPEN = 0, END_EOF = 1, END_ERROR = 2 };

typedef struct Leg {
    long id;
    int fd;
    int slot;
    size_t frame_size;      /* bytes of one outgoing frame, header included */
    unsigned char *silence; /* one silence frame, sent when nothing is queued */
    int idle_silence;
    Buf out;                /* whole frames Python queued, oldest first */
    Buf unsent;             /* bytes the kernel did not take yet (a slow peer) */
    Buf in;                 /* bytes read, not yet taken by Python */
    Buf final;              /* written once `out` is empty, after `close`, before the fd closes */
    int in_state, in_errno, in_reported; /* OPEN / END_EOF / END_ERROR, and whether Python has it */
    int write_errno;        /* a failed send: reported as END_ERROR too */
    int closing, closed, removed;
    uint64_t frames_sent;   /* every frame written, silence included */
    uint64_t pushed_sent;   /* frames Python queued that are written */
    /* Listening in the edge (issue 21): the caller's audio frames parsed and endpointed here, only
     * the endpointer's events (the utterance's audio gathered) handed to Python. */
    Endpointer *ep;          /* the caller's endpointer, once Python asked for it (`listen`) */
    PyObject *vad;           /* the webrtcvad.Vad it uses (a reference Python's thread lets go of) */
    int listening;           /* the edge endpoints the audio now (else Python gets the bytes) */
    int audio_kind;          /* AudioSocket kind of the endpointer's rate */
    size_t max_frame_bytes;  /* larger frames are Python's to refuse */
    size_t gather_bytes;     /* the utterance's audio goes to Python in pieces this large */
    EventQueue events;       /* for Python, in order */
    uint64_t frames_listened;
    struct Leg *next_in_slot;
    struct Leg *next_ready; /* legs with something for Python */
    int ready;
} Leg;

typedef struct {
    PyObject_HEAD
    pthread_mutex_t lock;
    pthread_t thread;
    int thread_started, running;
    int notify_fd;
    int phases, notify_every;
    int read_cycles;        /* a leg is read once every this many 20 ms cycles: once per notify */
    int64_t phase_ns, frame_ns, resync_ns;
    size_t max_unsent;
    Leg **slots;            /* per phase, a list of legs */
    int *slot_sizes;
    Leg *ready;             /* legs with input or an end for Python */
    Leg *graveyard;         /* legs removed by Python, freed by the thread (which may hold them) */
    Leg **by_id;            /* a leg's id is its index here; ids of removed legs are used again */
    long ids;               /* size of by_id */
    long live_legs;
    /* lateness of written frames against their slot, and frames skipped by rebases */
    double bounds[MAX_BUCKETS];
    int nbounds;
    uint64_t counts[MAX_BUCKETS + 1];
    double lateness_sum;
    uint64_t rebases, skipped, frames_sent;
    int notified;
} Engine;

static int64_t now_ns(void) {
    struct timespec t;
    clock_gettime(CLOCK_MONOTONIC, &t);
    return (int64_t)t.tv_sec * 1000000000 + t.tv_nsec;
}

static void observe(Engine *e, double seconds, uint64_t count) {
    int i = 0;
    while (i < e->nbounds && seconds > e->bounds[i]) i++; /* bisect_left on upper bounds */
    e->counts[i] += count;
    e->lateness_sum += seconds * (double)count;
}

static void mark_ready(Engine *e, Leg *leg) {
    if (!leg->ready && !leg->removed) { /* a removed leg's id may already be another's */
        leg->ready = 1;
        leg->next_ready = e->ready;
        e->ready = leg;
    }
}

static void close_fd(Leg *leg) {
    if (!leg->closed) {
        close(leg->fd);
        leg->closed = 1;
    }
}

/* What arrived on the leg's socket since its last phase: one recv, again only if it filled up. */
static void read_leg(Engine *e, Leg *leg) {
    unsigned char chunk[READ_CHUNK];
    while (leg->in_state == OPEN && leg->in.len < MAX_PENDING_INPUT) {
        ssize_t n = recv(leg->fd, chunk, sizeof chunk, MSG_DONTWAIT);
        if (n > 0) {
            if (buf_append(&leg->in, chunk, (size_t)n) < 0) {
                leg->in_state = END_ERROR;
                leg->in_errno = ENOMEM;
            }
            if (!leg->listening) mark_ready(e, leg); /* listening: the endpointer decides */
            if ((size_t)n < sizeof chunk) return;
        } else if (n == 0) {
            leg->in_state = END_EOF;
            mark_ready(e, leg);
        } else if (errno == EAGAIN || errno == EWOULDBLOCK) {
            return;
        } else if (errno != EINTR) {
            leg->in_state = END_ERROR;
            leg->in_errno = errno;
            mark_ready(e, leg);
        }
    }
}

/* The leg's whole audio frames, endpointed here; Python is woken for news (an onset, a pause, an
 * end) or `gather_bytes` of the utterance. Anything else (another frame kind, a bad length) and
 * all after it go to Python as bytes: the edge stops listening until Python asks again. */
static void listen_leg(Engine *e, Leg *leg, double now) {
    Buf *in = &leg->in;
    /* (Python not taking events: the frames wait in `in`, then in the kernel: TCP pushes back.) */
    while (in->len >= 3 && leg->events.audio.len < MAX_PENDING_INPUT) {
        const unsigned char *frame = in->data + in->start;
        size_t length = (size_t)frame[1] << 8 | frame[2];
        if (frame[0] != leg->audio_kind || length & 1 || length > leg->max_frame_bytes) {
            leg->listening = 0;
            mark_ready(e, leg);
            return;
        }
        if (in->len < 3 + length) break; /* the rest of the frame comes with a later read */
        if (endpointer_feed(leg->ep, frame + 3, length, now, &leg->events) < 0) {
            leg->in_state = END_ERROR;
            leg->in_errno = ENOMEM;
            mark_ready(e, leg);
            return;
        }
        leg->frames_listened++;
        buf_consume(in, 3 + length);
    }
    if (events_have_news(&leg->events) || events_trailing_audio(&leg->events) >= leg->gather_bytes)
        mark_ready(e, leg);
}

/* Send what the kernel takes of `data`; keep the rest in `unsent` (bounded: a peer that stopped
 * reading is seen by Python through `unsent`). Returns -1 on a broken connection. */
static int send_bytes(Engine *e, Leg *leg, const unsigned char *data, size_t n) {
    if (leg->unsent.len) { /* older bytes first */
        ssize_t sent = send(leg->fd, leg->unsent.data + leg->unsent.start, leg->unsent.len,
                            MSG_DONTWAIT | MSG_NOSIGNAL);
        if (sent > 0) buf_consume(&leg->unsent, (size_t)sent);
        else if (sent < 0 && errno != EAGAIN && errno != EWOULDBLOCK && errno != EINTR) return -1;
        if (leg->unsent.len) {
            if (leg->unsent.len + n <= e->max_unsent) buf_append(&leg->unsent, data, n);
            return 0;
        }
    }
    ssize_t sent = send(leg->fd, data, n, MSG_DONTWAIT | MSG_NOSIGNAL);
    if (sent < 0) {
        if (errno != EAGAIN && errno != EWOULDBLOCK && errno != EINTR) return -1;
        sent = 0;
    }
    if ((size_t)sent < n && leg->unsent.len + n - (size_t)sent <= e->max_unsent)
        buf_append(&leg->unsent, data + sent, n - (size_t)sent);
    return 0;
}

static void fail_write(Engine *e, Leg *leg) {
    leg->write_errno = errno ? errno : EPIPE;
    mark_ready(e, leg);
}

/* This phase's frame for one leg: the next one queued, else silence (or nothing when idle
 * silence is off); after `close`, once the queue is empty, the final bytes and the end. */
static void write_leg(Engine *e, Leg *leg) {
    if (leg->write_errno) { /* a broken connection: nothing more to send; closed when asked */
        if (leg->closing) close_fd(leg);
        return;
    }
    if (leg->out.len >= leg->frame_size) {
        if (send_bytes(e, leg, leg->out.data + leg->out.start, leg->frame_size) < 0) {
            fail_write(e, leg);
            return;
        }
        buf_consume(&leg->out, leg->frame_size);
        leg->pushed_sent++;
    } else if (leg->closing) {
        if (leg->final.len && send_bytes(e, leg, leg->final.data + leg->final.start, leg->final.len) < 0)
            fail_write(e, leg);
        buf_free(&leg->final);
        shutdown(leg->fd, SHUT_WR);
        close_fd(leg);
        return;
    } else if (leg->idle_silence) {
        if (send_bytes(e, leg, leg->silence, leg->frame_size) < 0) {
            fail_write(e, leg);
            return;
        }
    } else {
        return;
    }
    leg->frames_sent++;
    e->frames_sent++;
}

static void unlink_from_slot(Engine *e, Leg *leg) {
    Leg **at = &e->slots[leg->slot];
    while (*at && *at != leg) at = &(*at)->next_in_slot;
    if (*at) {
        *at = leg->next_in_slot;
        e->slot_sizes[leg->slot]--;
    }
}

static void free_leg(Leg *leg) {
    if (leg->ep) endpointer_free(leg->ep);
    free(leg->ep);
    events_free(&leg->events);
    buf_free(&leg->out);
    buf_free(&leg->unsent);
    buf_free(&leg->in);
    buf_free(&leg->final);
    free(leg->silence);
    free(leg);
}

static void unready(Engine *e, Leg *leg) {
    if (leg->ready) {
        Leg **at = &e->ready;
        while (*at && *at != leg) at = &(*at)->next_ready;
        if (*at) *at = leg->next_ready;
        leg->ready = 0;
    }
}

/* Out of the schedule and the ready list, its connection closed, freed at the end of the phase. */
static void retire(Engine *e, Leg *leg) {
    unlink_from_slot(e, leg);
    unready(e, leg);
    close_fd(leg);
    e->live_legs--;
    leg->next_ready = e->graveyard;
    e->graveyard = leg;
}

static void *run_engine(void *arg) {
    Engine *e = arg;
    pthread_setname_np(pthread_self(), "porteiro-media"); /* as top -H and py-spy show it */
    int64_t start = now_ns();
    uint64_t step = 0;
    while (1) {
        int64_t deadline = start + (int64_t)step * e->phase_ns;
        struct timespec at = {deadline / 1000000000, deadline % 1000000000};
        while (clock_nanosleep(CLOCK_MONOTONIC, TIMER_ABSTIME, &at, NULL) == EINTR) {}
        pthread_mutex_lock(&e->lock);
        if (!e->running) {
            pthread_mutex_unlock(&e->lock);
            break;
        }
        int64_t late = now_ns() - deadline;
        if (late > e->resync_ns) { /* a stall: the schedule moves on; the frames jumped over count late */
            start += late;
            deadline += late;
            uint64_t frames = (uint64_t)((late + e->frame_ns / 2) / e->frame_ns);
            uint64_t skipped = (frames ? frames : 1) * (uint64_t)e->live_legs;
            e->rebases++;
            e->skipped += skipped;
            observe(e, (double)late / 1e9, skipped);
        }
        /* Read in the last cycle before Python is notified: what arrived waits no longer on average
         * than with a read every cycle (it is taken at the notify either way), in half the recvs. */
        int reading = (step / (uint64_t)e->phases) % (uint64_t)e->read_cycles == (uint64_t)e->read_cycles - 1;
        double now = (double)now_ns() / 1e9;
        for (Leg *leg = e->slots[step % (uint64_t)e->phases], *next; leg; leg = next) {
            next = leg->next_in_slot;
            if (leg->closed) continue;
            if (reading) {
                read_leg(e, leg);
                if (leg->listening) listen_leg(e, leg, now);
            }
            write_leg(e, leg);
            int64_t lateness = now_ns() - deadline;
            observe(e, lateness > 0 ? (double)lateness / 1e9 : 0.0, 1);
            if (leg->closed && leg->removed) retire(e, leg); /* removed while its last frames went out */
        }
        while (e->graveyard) { /* legs Python let go of: the thread holds no pointer to them now */
            Leg *leg = e->graveyard;
            e->graveyard = leg->next_ready;
            free_leg(leg);
        }
        if (step % (uint64_t)e->notify_every == 0 && !e->notified) {
            uint64_t one = 1;
            if (write(e->notify_fd, &one, sizeof one) == sizeof one) e->notified = 1;
        }
        pthread_mutex_unlock(&e->lock);
        step++;
    }
    return NULL;
}

/* ---- Python ---------------------------------------------------------------------------------- */

static Leg *find_leg(Engine *e, long id) {
    if (id >= 0 && id < e->ids && e->by_id[id]) return e->by_id[id];
    PyErr_Format(PyExc_KeyError, "no leg %ld", id);
    return NULL;
}

/* A free id (the lowest), growing the table when all are taken; -1 without memory. */
static long free_id(Engine *e) {
    for (long id = 0; id < e->ids; id++)
        if (!e->by_id[id]) return id;
    long ids = e->ids ? e->ids * 2 : 64;
    Leg **grown = realloc(e->by_id, (size_t)ids * sizeof(Leg *));
    if (!grown) return -1;
    memset(grown + e->ids, 0, (size_t)(ids - e->ids) * sizeof(Leg *));
    long id = e->ids;
    e->by_id = grown;
    e->ids = ids;
    return id;
}

static int Engine_init(Engine *e, PyObject *args, PyObject *kwargs) {
    static char *names[] = {"phases", "frame_ms", "resync_ms", "notify_every", "bounds", "max_unsent", NULL};
    int phases = 10, frame_ms = 20, resync_ms = 60, notify_every = 10;
    Py_ssize_t max_unsent = 64 * 1024;
    PyObject *bounds = NULL;
    if (!PyArg_ParseTupleAndKeywords(args, kwargs, "|iiiiOn", names, &phases, &frame_ms, &resync_ms,
                                     &notify_every, &bounds, &max_unsent))
        return -1;
    if (phases < 1 || frame_ms < 1 || resync_ms < 1 || notify_every < 1 || max_unsent < 1) {
        PyErr_SetString(PyExc_ValueError, "phases, frame_ms, resync_ms, notify_every, max_unsent: >= 1");
        return -1;
    }
    if (e->slots) {
        PyErr_SetString(PyExc_RuntimeError, "engine already initialised");
        return -1;
    }
    e->nbounds = 0;
    if (bounds) {
        PyObject *seq = PySequence_Fast(bounds, "bounds: a sequence of seconds");
        if (!seq) return -1;
        Py_ssize_t n = PySequence_Fast_GET_SIZE(seq);
        if (n > MAX_BUCKETS) {
            Py_DECREF(seq);
            PyErr_SetString(PyExc_ValueError, "too many bounds");
            return -1;
        }
        for (Py_ssize_t i = 0; i < n; i++) e->bounds[i] = PyFloat_AsDouble(PySequence_Fast_GET_ITEM(seq, i));
        Py_DECREF(seq);
        if (PyErr_Occurred()) return -1;
        e->nbounds = (int)n;
    }
    e->phases = phases;
    e->notify_every = notify_every;
    e->read_cycles = notify_every % phases == 0 ? notify_every / phases : 1;
    e->frame_ns = (int64_t)frame_ms * 1000000;
    e->phase_ns = e->frame_ns / phases;
    e->resync_ns = (int64_t)resync_ms * 1000000;
    e->max_unsent = (size_t)max_unsent;
    e->slots = calloc((size_t)phases, sizeof(Leg *));
    e->slot_sizes = calloc((size_t)phases, sizeof(int));
    e->notify_fd = eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC);
    if (!e->slots || !e->slot_sizes || e->notify_fd < 0) {
        PyErr_SetFromErrno(PyExc_OSError);
        return -1;
    }
    pthread_mutex_init(&e->lock, NULL);
    return 0;
}

static PyObject *Engine_start(Engine *e, PyObject *unused) {
    if (e->thread_started) Py_RETURN_NONE;
    e->running = 1;
    int error = pthread_create(&e->thread, NULL, run_engine, e);
    if (error) {
        e->running = 0;
        errno = error;
        return PyErr_SetFromErrno(PyExc_OSError);
    }
    e->thread_started = 1;
    Py_RETURN_NONE;
}

/* The thread is stopped: the legs that were closing get what was queued and their final bytes
 * at once (a gateway shutting down still sends its hangup frames), then their end. */
static void finish_closing(Engine *e) {
    for (int s = 0; s < e->phases; s++) {
        for (Leg *leg = e->slots[s], *next; leg; leg = next) {
            next = leg->next_in_slot;
            while (leg->closing && !leg->closed) write_leg(e, leg);
            if (leg->closed && leg->removed) retire(e, leg);
        }
    }
}

static PyObject *Engine_stop(Engine *e, PyObject *unused) {
    if (!e->thread_started) Py_RETURN_NONE;
    pthread_mutex_lock(&e->lock);
    e->running = 0;
    pthread_mutex_unlock(&e->lock);
    Py_BEGIN_ALLOW_THREADS pthread_join(e->thread, NULL);
    Py_END_ALLOW_THREADS e->thread_started = 0;
    finish_closing(e);
    Py_RETURN_NONE;
}

/* add(fd, silence_frame, idle_silence) -> leg id: the engine owns the fd from now on. */
static PyObject *Engine_add(Engine *e, PyObject *args) {
    int fd, idle_silence;
    Py_buffer silence;
    if (!PyArg_ParseTuple(args, "iy*p", &fd, &silence, &idle_silence)) return NULL;
    Leg *leg = calloc(1, sizeof *leg);
    if (!leg || !silence.len || !(leg->silence = malloc((size_t)silence.len))) {
        PyBuffer_Release(&silence);
        free(leg);
        return silence.len ? PyErr_NoMemory() : (PyErr_SetString(PyExc_ValueError, "empty frame"), NULL);
    }
    memcpy(leg->silence, silence.buf, (size_t)silence.len);
    leg->frame_size = (size_t)silence.len;
    PyBuffer_Release(&silence);
    leg->fd = fd;
    leg->idle_silence = idle_silence;
    pthread_mutex_lock(&e->lock);
    int slot = 0; /* the least busy phase */
    for (int s = 1; s < e->phases; s++)
        if (e->slot_sizes[s] < e->slot_sizes[slot]) slot = s;
    leg->slot = slot;
    leg->id = free_id(e);
    if (leg->id < 0) {
        pthread_mutex_unlock(&e->lock);
        free(leg->silence);
        free(leg);
        return PyErr_NoMemory();
    }
    e->by_id[leg->id] = leg;
    leg->next_in_slot = e->slots[slot];
    e->slots[slot] = leg;
    e->slot_sizes[slot]++;
    e->live_legs++;
    pthread_mutex_unlock(&e->lock);
    return PyLong_FromLong(leg->id);
}

/* push(leg, frames): whole frames to send, one per tick, after those already queued. */
static PyObject *Engine_push(Engine *e, PyObject *args) {
    long id;
    Py_buffer data;
    if (!PyArg_ParseTuple(args, "ly*", &id, &data)) return NULL;
    PyObject *result = NULL;
    pthread_mutex_lock(&e->lock);
    Leg *leg = find_leg(e, id);
    if (leg) {
        if (leg->frame_size && (size_t)data.len % leg->frame_size)
            PyErr_Format(PyExc_ValueError, "%zd bytes is not a whole number of %zu-byte frames", data.len,
                         leg->frame_size);
        else if (!leg->closing && !leg->closed && buf_append(&leg->out, data.buf, (size_t)data.len) < 0)
            PyErr_NoMemory();
        else
            result = Py_NewRef(Py_None);
    }
    pthread_mutex_unlock(&e->lock);
    PyBuffer_Release(&data);
    return result;
}

/* push_many([(leg, frames), ...]): `push` for many legs under one lock (a tick's top-up); a leg
 * removed meanwhile is skipped. */
static PyObject *Engine_push_many(Engine *e, PyObject *arg) {
    PyObject *seq = PySequence_Fast(arg, "push_many: a sequence of (leg, frames)");
    if (!seq) return NULL;
    Py_ssize_t n = PySequence_Fast_GET_SIZE(seq);
    int failed = 0;
    pthread_mutex_lock(&e->lock);
    for (Py_ssize_t i = 0; i < n && !failed; i++) {
        long id;
        const char *data;
        Py_ssize_t len;
        PyObject *item = PySequence_Fast_GET_ITEM(seq, i);
        if (!PyArg_ParseTuple(item, "ly#", &id, &data, &len)) {
            failed = 1;
            break;
        }
        Leg *leg = (id >= 0 && id < e->ids) ? e->by_id[id] : NULL;
        if (!leg) { /* a leg removed since (it ended): nothing to send */
            continue;
        } else if ((size_t)len % leg->frame_size) {
            PyErr_Format(PyExc_ValueError, "%zd bytes is not a whole number of %zu-byte frames", len,
                         leg->frame_size);
            failed = 1;
        } else if (!leg->closing && !leg->closed && buf_append(&leg->out, (const unsigned char *)data, (size_t)len) < 0) {
            PyErr_NoMemory();
            failed = 1;
        }
    }
    pthread_mutex_unlock(&e->lock);
    Py_DECREF(seq);
    if (failed) return NULL;
    Py_RETURN_NONE;
}

/* queued_many([leg, ...]) -> [frames queued of each] under one lock. */
static PyObject *Engine_queued_many(Engine *e, PyObject *arg) {
    PyObject *seq = PySequence_Fast(arg, "queued_many: a sequence of legs");
    if (!seq) return NULL;
    Py_ssize_t n = PySequence_Fast_GET_SIZE(seq);
    long *ids = PyMem_Malloc((size_t)(n ? n : 1) * sizeof(long));
    if (!ids) {
        Py_DECREF(seq);
        return PyErr_NoMemory();
    }
    for (Py_ssize_t i = 0; i < n; i++) {
        ids[i] = PyLong_AsLong(PySequence_Fast_GET_ITEM(seq, i));
        if (ids[i] == -1 && PyErr_Occurred()) {
            PyMem_Free(ids);
            Py_DECREF(seq);
            return NULL;
        }
    }
    Py_DECREF(seq);
    pthread_mutex_lock(&e->lock);
    for (Py_ssize_t i = 0; i < n; i++) {
        Leg *leg = (ids[i] >= 0 && ids[i] < e->ids) ? e->by_id[ids[i]] : NULL;
        ids[i] = leg ? (long)(leg->out.len / leg->frame_size) : -1;
    }
    pthread_mutex_unlock(&e->lock);
    PyObject *result = PyList_New(n);
    for (Py_ssize_t i = 0; result && i < n; i++) PyList_SET_ITEM(result, i, PyLong_FromLong(ids[i]));
    PyMem_Free(ids);
    return result;
}

/* The leg whose id is `arg`, with the engine locked (the caller unlocks); NULL with an exception
 * set, and the engine unlocked, when there is none. */
static Leg *lock_leg(Engine *e, PyObject *arg) {
    long id = PyLong_AsLong(arg);
    if (id == -1 && PyErr_Occurred()) return NULL;
    pthread_mutex_lock(&e->lock);
    Leg *leg = find_leg(e, id);
    if (!leg) pthread_mutex_unlock(&e->lock);
    return leg;
}

/* queued(leg) -> frames queued, not written yet. */
static PyObject *Engine_queued(Engine *e, PyObject *arg) {
    Leg *leg = lock_leg(e, arg);
    if (!leg) return NULL;
    long frames = (long)(leg->out.len / leg->frame_size);
    pthread_mutex_unlock(&e->lock);
    return PyLong_FromLong(frames);
}

/* drop(leg) -> how many queued frames were dropped (a Say stopped); none once closing. */
static PyObject *Engine_drop(Engine *e, PyObject *arg) {
    Leg *leg = lock_leg(e, arg);
    if (!leg) return NULL;
    long frames = 0;
    if (!leg->closing) {
        frames = (long)(leg->out.len / leg->frame_size);
        buf_consume(&leg->out, leg->out.len);
    }
    pthread_mutex_unlock(&e->lock);
    return PyLong_FromLong(frames);
}

/* close(leg, final): once the queued frames are written, write `final` (a hangup frame, or
 * nothing) and close the connection. */
static PyObject *Engine_close(Engine *e, PyObject *args) {
    long id;
    Py_buffer final;
    if (!PyArg_ParseTuple(args, "ly*", &id, &final)) return NULL;
    PyObject *result = NULL;
    pthread_mutex_lock(&e->lock);
    Leg *leg = find_leg(e, id);
    if (leg) {
        if (!leg->closing && !leg->closed) {
            leg->closing = 1;
            if (final.len) buf_append(&leg->final, final.buf, (size_t)final.len);
        }
        result = Py_NewRef(Py_None);
    }
    pthread_mutex_unlock(&e->lock);
    PyBuffer_Release(&final);
    return result;
}

/* remove(leg): Python is done with it (its id may be given to a new leg). A leg closing still
 * sends what was queued, then its final bytes, and is freed after; any other is closed now. */
static PyObject *Engine_remove(Engine *e, PyObject *arg) {
    Leg *leg = lock_leg(e, arg);
    if (!leg) return NULL;
    e->by_id[leg->id] = NULL;
    PyObject *vad = leg->vad; /* the endpointer is not used again: the edge stops listening */
    leg->vad = NULL;
    leg->listening = 0;
    if (leg->closing && !leg->closed) {
        leg->removed = 1;
        unready(e, leg); /* nothing more reaches Python for it */
    } else {
        retire(e, leg);
    }
    pthread_mutex_unlock(&e->lock);
    Py_XDECREF(vad);
    Py_RETURN_NONE;
}

/* The endpointer's events as Python tuples: (EV_STARTED, audio, end_silence_ms), (EV_AUDIO, audio), (EV_ENDED, reason,
 * speech_ms, silence_ms, utterance_ms, heard_at), (EV_DROPPED, speech_ms), (EV_PAUSED, silence_ms),
 * (EV_RESUMED,). None when there are none. */
static PyObject *events_to_python(const EventQueue *queue) {
    if (!queue->count) Py_RETURN_NONE;
    PyObject *list = PyList_New((Py_ssize_t)queue->count);
    const char *audio = queue->audio.data ? (const char *)(queue->audio.data + queue->audio.start) : "";
    for (size_t i = 0; list && i < queue->count; i++) {
        const Event *event = &queue->items[i];
        PyObject *item = NULL;
        switch (event->kind) {
        case EV_STARTED:
            item = Py_BuildValue("(iy#i)", event->kind, audio, (Py_ssize_t)event->audio_len, event->end_silence_ms);
            audio += event->audio_len;
            break;
        case EV_AUDIO:
            item = Py_BuildValue("(iy#)", event->kind, audio, (Py_ssize_t)event->audio_len);
            audio += event->audio_len;
            break;
        case EV_ENDED:
            item = Py_BuildValue("(iiiiid)", event->kind, event->reason, event->speech_ms, event->silence_ms,
                                 event->utterance_ms, event->heard_at);
            break;
        case EV_DROPPED:
            item = Py_BuildValue("(ii)", event->kind, event->speech_ms);
            break;
        case EV_PAUSED:
            item = Py_BuildValue("(ii)", event->kind, event->silence_ms);
            break;
        default:
            item = Py_BuildValue("(i)", event->kind);
        }
        if (!item) Py_CLEAR(list);
        else PyList_SET_ITEM(list, (Py_ssize_t)i, item);
    }
    return list;
}

/* ---- listening in the edge: the caller's endpointer (endpointing.py's, in C) -------------------- */

static VadProcess vad_process; /* webrtcvad's, found by `use_vad` */

/* use_vad(path): find WebRtcVad_Process in webrtcvad's C module (already loaded by its import). */
static PyObject *media_use_vad(PyObject *module, PyObject *arg) {
    const char *path = PyUnicode_AsUTF8(arg);
    if (!path) return NULL;
    void *library = dlopen(path, RTLD_NOW | RTLD_NOLOAD);
    if (!library) library = dlopen(path, RTLD_NOW);
    void *symbol = library ? dlsym(library, "WebRtcVad_Process") : NULL;
    if (!symbol) {
        PyErr_Format(PyExc_ImportError, "webrtcvad's WebRtcVad_Process: %s", dlerror());
        return NULL;
    }
    memcpy(&vad_process, &symbol, sizeof vad_process); /* a data pointer to a function pointer */
    Py_RETURN_NONE;
}

/* listen(leg, vad, rate, frame_ms, onset_ms, pre_roll_ms, min_speech_ms, max_utterance_ms,
 *        end_silence_ms, pause_ms, pause_floor_rms, gather_bytes, max_frame_bytes):
 * a new endpointer for the leg's caller audio (the edge listens once `set_listening` says so). */
static PyObject *Engine_listen(Engine *e, PyObject *args) {
    long id;
    PyObject *vad;
    EndpointerConfig config;
    Py_ssize_t gather_bytes, max_frame_bytes;
    if (!PyArg_ParseTuple(args, "lOiiiiiiiidnn", &id, &vad, &config.rate, &config.frame_ms, &config.onset_ms,
                          &config.pre_roll_ms, &config.min_speech_ms, &config.max_utterance_ms,
                          &config.end_silence_ms, &config.pause_ms, &config.pause_floor_rms, &gather_bytes,
                          &max_frame_bytes))
        return NULL;
    if (!vad_process) {
        PyErr_SetString(PyExc_RuntimeError, "use_vad() first");
        return NULL;
    }
    int kind = config.rate == 8000 ? 0x10 : config.rate == 16000 ? 0x12 : 0;
    if (!kind || (config.frame_ms != 10 && config.frame_ms != 20 && config.frame_ms != 30) || gather_bytes < 0) {
        PyErr_SetString(PyExc_ValueError, "the edge endpoints 8 or 16 kHz in 10, 20 or 30 ms VAD frames");
        return NULL;
    }
    PyObject *capsule = PyObject_GetAttrString(vad, "_vad"); /* webrtcvad.Vad's handle */
    void *handle = capsule ? PyCapsule_GetPointer(capsule, "WebRtcVadPtr") : NULL;
    Py_XDECREF(capsule);
    if (!handle) return NULL;
    Endpointer *ep = malloc(sizeof *ep);
    if (!ep) return PyErr_NoMemory();
    endpointer_init(ep, &config, vad_process, handle);
    pthread_mutex_lock(&e->lock);
    Leg *leg = find_leg(e, id);
    PyObject *old_vad = NULL;
    Endpointer *old = NULL;
    if (leg) {
        old = leg->ep;
        old_vad = leg->vad;
        leg->ep = ep;
        leg->vad = Py_NewRef(vad);
        leg->listening = 0;
        leg->audio_kind = kind;
        leg->gather_bytes = (size_t)gather_bytes;
        leg->max_frame_bytes = (size_t)max_frame_bytes;
    }
    pthread_mutex_unlock(&e->lock);
    if (!leg) {
        free(ep);
        return NULL;
    }
    if (old) {
        endpointer_free(old);
        free(old);
    }
    Py_XDECREF(old_vad);
    Py_RETURN_NONE;
}

/* set_listening(leg, on): the edge endpoints the caller's audio (on), or hands Python its bytes;
 * events not taken yet are taken first. */
static PyObject *Engine_set_listening(Engine *e, PyObject *args) {
    long id;
    int on;
    if (!PyArg_ParseTuple(args, "lp", &id, &on)) return NULL;
    pthread_mutex_lock(&e->lock);
    Leg *leg = find_leg(e, id);
    if (leg && on && !leg->ep) {
        PyErr_SetString(PyExc_RuntimeError, "listen() first");
        leg = NULL;
    }
    if (leg) {
        leg->listening = on;
        if (!on && (leg->events.count || leg->in.len)) mark_ready(e, leg);
    }
    pthread_mutex_unlock(&e->lock);
    if (!leg) return NULL;
    Py_RETURN_NONE;
}

/* feed(leg, pcm) -> (events, heard, voiced_run_ms): the leg's endpointer on audio Python has (the
 * edge is not listening): the same state, so an utterance may start in the edge and end here. */
static PyObject *Engine_feed(Engine *e, PyObject *args) {
    long id;
    Py_buffer pcm;
    if (!PyArg_ParseTuple(args, "ly*", &id, &pcm)) return NULL;
    EventQueue events = {0};
    int failed = 0, heard = 0, voiced_run_ms = 0;
    pthread_mutex_lock(&e->lock);
    Leg *leg = find_leg(e, id);
    if (leg && (!leg->ep || leg->listening)) {
        PyErr_SetString(PyExc_RuntimeError, leg->ep ? "the edge is listening" : "listen() first");
        leg = NULL;
    }
    if (leg) {
        failed = endpointer_feed(leg->ep, pcm.buf, (size_t)pcm.len, (double)now_ns() / 1e9, &events) < 0;
        heard = leg->ep->heard;
        voiced_run_ms = leg->ep->voiced_run_ms;
    }
    pthread_mutex_unlock(&e->lock);
    PyBuffer_Release(&pcm);
    PyObject *result = NULL;
    if (failed)
        PyErr_NoMemory();
    else if (leg)
        result = Py_BuildValue("(NOi)", events_to_python(&events), heard ? Py_True : Py_False, voiced_run_ms);
    events_free(&events);
    return result;
}

/* expect(leg, end_silence_ms): the end-of-speech silence of the next utterances. */
static PyObject *Engine_expect(Engine *e, PyObject *args) {
    long id;
    int end_silence_ms;
    if (!PyArg_ParseTuple(args, "li", &id, &end_silence_ms)) return NULL;
    pthread_mutex_lock(&e->lock);
    Leg *leg = find_leg(e, id);
    if (leg && leg->ep) leg->ep->next_end_silence_ms = end_silence_ms;
    pthread_mutex_unlock(&e->lock);
    if (!leg) return NULL;
    Py_RETURN_NONE;
}

/* leg_state(leg) -> (frames written, queued frames written, bytes the peer has not taken, closed,
 * caller frames the edge endpointed) */
static PyObject *Engine_leg_state(Engine *e, PyObject *arg) {
    Leg *leg = lock_leg(e, arg);
    if (!leg) return NULL;
    unsigned long long sent = leg->frames_sent, pushed = leg->pushed_sent;
    size_t unsent = leg->unsent.len;
    int closed = leg->closed;
    unsigned long long listened = leg->frames_listened;
    pthread_mutex_unlock(&e->lock);
    return Py_BuildValue("(KKnOK)", sent, pushed, (Py_ssize_t)unsent, closed ? Py_True : Py_False, listened);
}

typedef struct {
    long id;
    Buf in;             /* the leg's bytes read, moved out of it */
    EventQueue events;  /* and its endpointer's events */
    int state, error;
} Taken;

/* Under the lock, only moves: the ready legs' read bytes and ends into `taken` (O(1) per leg), so
 * the media thread never waits while Python builds its objects. Returns how many, or -1. */
static Py_ssize_t move_ready(Engine *e, Taken **taken) {
    pthread_mutex_lock(&e->lock);
    e->notified = 0;
    Py_ssize_t count = 0;
    for (Leg *leg = e->ready; leg; leg = leg->next_ready) count++;
    *taken = count ? PyMem_RawCalloc((size_t)count, sizeof(Taken)) : NULL;
    if (count && !*taken) {
        pthread_mutex_unlock(&e->lock);
        return -1;
    }
    Py_ssize_t index = count; /* the list is newest first: filled from the end, oldest first */
    for (Leg *leg = e->ready, *next; leg; leg = next) {
        next = leg->next_ready;
        leg->ready = 0;
        Taken *item = &(*taken)[--index];
        item->id = leg->id;
        if (leg->write_errno && !leg->in_reported) {
            item->state = END_ERROR;
            item->error = leg->write_errno;
        } else if (leg->in_state != OPEN && !leg->in_reported) {
            item->state = leg->in_state;
            item->error = leg->in_errno;
        }
        if (item->state != OPEN) leg->in_reported = 1;
        if (!leg->listening) { /* listening, the bytes left are a frame's start: the edge's */
            item->in = leg->in;
            memset(&leg->in, 0, sizeof leg->in);
        }
        item->events = leg->events;
        memset(&leg->events, 0, sizeof leg->events);
    }
    e->ready = NULL;
    pthread_mutex_unlock(&e->lock);
    return count;
}

/* take() -> [(leg, bytes read, state, errno, events)]: for the legs that read something, ended or
 * have endpointer events since the last take, in the order they did; state OPEN (0), END_EOF (1) or
 * END_ERROR (2), each end once; events (a list, or None) came before the bytes. */
static PyObject *Engine_take(Engine *e, PyObject *unused) {
    uint64_t drained;
    if (read(e->notify_fd, &drained, sizeof drained) < 0) { /* nothing signalled: fine */
    }
    Taken *taken;
    Py_ssize_t count = move_ready(e, &taken);
    if (count < 0) return PyErr_NoMemory();
    PyObject *list = PyList_New(0);
    for (Py_ssize_t i = 0; i < count; i++) {
        Taken *item = &taken[i];
        if (list && (item->in.len || item->state != OPEN || item->events.count)) {
            /* (y# makes None of a NULL pointer: an end with nothing read is b"") */
            const char *data = item->in.data ? (const char *)(item->in.data + item->in.start) : "";
            PyObject *events = events_to_python(&item->events);
            PyObject *entry = events ? Py_BuildValue("(ly#iiN)", item->id, data, (Py_ssize_t)item->in.len,
                                                     item->state, item->error, events)
                                     : NULL;
            if (!entry || PyList_Append(list, entry) < 0) Py_CLEAR(list);
            Py_XDECREF(entry);
        }
        buf_free(&item->in);
        events_free(&item->events);
    }
    PyMem_RawFree(taken);
    return list;
}

/* lateness() -> (counts per bucket since the last call, their sum, rebases, frames skipped, frames sent) */
static PyObject *Engine_lateness(Engine *e, PyObject *unused) {
    pthread_mutex_lock(&e->lock);
    PyObject *counts = PyList_New(e->nbounds + 1);
    for (int i = 0; counts && i <= e->nbounds; i++) {
        PyList_SET_ITEM(counts, i, PyLong_FromUnsignedLongLong(e->counts[i]));
        e->counts[i] = 0;
    }
    double total = e->lateness_sum;
    e->lateness_sum = 0;
    unsigned long long rebases = e->rebases, skipped = e->skipped, sent = e->frames_sent;
    e->rebases = e->skipped = 0;
    pthread_mutex_unlock(&e->lock);
    if (!counts) return NULL;
    return Py_BuildValue("(NdKKK)", counts, total, rebases, skipped, sent);
}

static PyObject *Engine_get_notify_fd(Engine *e, void *closure) { return PyLong_FromLong(e->notify_fd); }

static void Engine_dealloc(Engine *e) {
    if (e->thread_started) {
        pthread_mutex_lock(&e->lock);
        e->running = 0;
        pthread_mutex_unlock(&e->lock);
        pthread_join(e->thread, NULL);
    }
    for (int s = 0; e->slots && s < e->phases; s++) {
        Leg *leg = e->slots[s];
        while (leg) {
            Leg *next = leg->next_in_slot;
            close_fd(leg);
            Py_XDECREF(leg->vad);
            free_leg(leg);
            leg = next;
        }
    }
    while (e->graveyard) {
        Leg *leg = e->graveyard;
        e->graveyard = leg->next_ready;
        free_leg(leg);
    }
    if (e->slots) pthread_mutex_destroy(&e->lock);
    free(e->slots);
    free(e->slot_sizes);
    free(e->by_id);
    if (e->notify_fd > 0) close(e->notify_fd);
    Py_TYPE(e)->tp_free((PyObject *)e);
}

static PyMethodDef Engine_methods[] = {
    {"start", (PyCFunction)Engine_start, METH_NOARGS, "Start the media thread."},
    {"stop", (PyCFunction)Engine_stop, METH_NOARGS, "Stop the media thread (legs stay as they are)."},
    {"add", (PyCFunction)Engine_add, METH_VARARGS, "add(fd, silence_frame, idle_silence) -> leg id"},
    {"push", (PyCFunction)Engine_push, METH_VARARGS, "push(leg, frames): queue whole frames"},
    {"queued", (PyCFunction)Engine_queued, METH_O, "queued(leg) -> frames not written yet"},
    {"push_many", (PyCFunction)Engine_push_many, METH_O, "push_many([(leg, frames), ...])"},
    {"queued_many", (PyCFunction)Engine_queued_many, METH_O, "queued_many([leg, ...]) -> [frames queued]"},
    {"drop", (PyCFunction)Engine_drop, METH_O, "drop(leg) -> queued frames dropped"},
    {"close", (PyCFunction)Engine_close, METH_VARARGS, "close(leg, final): after the queue, final bytes, close"},
    {"remove", (PyCFunction)Engine_remove, METH_O, "remove(leg): forget it (closing its socket)"},
    {"leg_state", (PyCFunction)Engine_leg_state, METH_O, "leg_state(leg) -> (sent, queued sent, unsent, closed)"},
    {"take", (PyCFunction)Engine_take, METH_NOARGS, "take() -> [(leg, bytes, state, errno, events)]"},
    {"listen", (PyCFunction)Engine_listen, METH_VARARGS, "listen(leg, vad, rate, ...): the leg's endpointer"},
    {"set_listening", (PyCFunction)Engine_set_listening, METH_VARARGS, "set_listening(leg, on)"},
    {"feed", (PyCFunction)Engine_feed, METH_VARARGS, "feed(leg, pcm) -> (events, heard, voiced_run_ms)"},
    {"expect", (PyCFunction)Engine_expect, METH_VARARGS, "expect(leg, end_silence_ms)"},
    {"lateness", (PyCFunction)Engine_lateness, METH_NOARGS, "lateness() -> (counts, sum, rebases, skipped, sent)"},
    {NULL}};

static PyGetSetDef Engine_getset[] = {
    {"notify_fd", (getter)Engine_get_notify_fd, NULL, "eventfd readable when there is something to take", NULL},
    {NULL}};

static PyTypeObject EngineType = {
    PyVarObject_HEAD_INIT(NULL, 0).tp_name = "porteiro_gateway._media.Engine",
    .tp_basicsize = sizeof(Engine),
    .tp_flags = Py_TPFLAGS_DEFAULT,
    .tp_doc = "The gateway's media edge: every leg's socket read and written on the 20 ms schedule.",
    .tp_new = PyType_GenericNew,
    .tp_init = (initproc)Engine_init,
    .tp_dealloc = (destructor)Engine_dealloc,
    .tp_methods = Engine_methods,
    .tp_getset = Engine_getset,
};

/* rms(frame) -> root mean square of its int16 samples, as endpointing.rms computes it (the sum of
 * squares exact in int64, one correctly rounded division, sqrt): the same float, 20x cheaper. */
static PyObject *media_rms(PyObject *module, PyObject *arg) {
    Py_buffer view;
    if (PyObject_GetBuffer(arg, &view, PyBUF_SIMPLE) < 0) return NULL;
    double value = rms_of(view.buf, (size_t)view.len);
    PyBuffer_Release(&view);
    return PyFloat_FromDouble(value);
}

static PyMethodDef media_functions[] = {
    {"rms", media_rms, METH_O, "rms(frame) -> root mean square of its int16 little-endian samples"},
    {"use_vad", media_use_vad, METH_O, "use_vad(path of webrtcvad's C module): the edge's VAD"},
    {NULL}};

static struct PyModuleDef media_module = {PyModuleDef_HEAD_INIT, "porteiro_gateway._media",
                                          "The gateway's native media edge (issue 21).", -1, media_functions};

PyMODINIT_FUNC PyInit__media(void) {
    if (PyType_Ready(&EngineType) < 0) return NULL;
    PyObject *module = PyModule_Create(&media_module);
    if (!module) return NULL;
    if (PyModule_AddObjectRef(module, "Engine", (PyObject *)&EngineType) < 0 ||
        PyModule_AddIntConstant(module, "OPEN", OPEN) < 0 || PyModule_AddIntConstant(module, "END_EOF", END_EOF) < 0 ||
        PyModule_AddIntConstant(module, "END_ERROR", END_ERROR) < 0 ||
        PyModule_AddIntConstant(module, "EV_STARTED", EV_STARTED) < 0 ||
        PyModule_AddIntConstant(module, "EV_AUDIO", EV_AUDIO) < 0 ||
        PyModule_AddIntConstant(module, "EV_ENDED", EV_ENDED) < 0 ||
        PyModule_AddIntConstant(module, "EV_DROPPED", EV_DROPPED) < 0 ||
        PyModule_AddIntConstant(module, "EV_PAUSED", EV_PAUSED) < 0 ||
        PyModule_AddIntConstant(module, "EV_RESUMED", EV_RESUMED) < 0) {
        Py_DECREF(module);
        return NULL;
    }
    return module;
}
