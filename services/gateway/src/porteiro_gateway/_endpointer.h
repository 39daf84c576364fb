/*
 * The endpointer of endpointing.py in C, for the native media edge (issue 21): webrtcvad per VAD
 * frame, the onset with its pre-roll, the utterance's counters, pauses, the end of speech.
 *
 * Same decisions as endpointing.Endpointer, frame for frame (tests/gateway/endpointer_model.py is
 * the behaviour both keep). It runs in the edge's thread for a leg that listens there (no Python
 * per read), or from Python (`Engine.feed`) while the loop weighs every frame (a barge-in).
 */
#ifndef PORTEIRO_ENDPOINTER_H
#define PORTEIRO_ENDPOINTER_H

#include <stddef.h>
#include <stdint.h>

#include "_media_buf.h"

#define MAX_VAD_FRAME_SAMPLES 1440 /* 30 ms at 48 kHz */

/* webrtcvad's WebRtcVad_Process: 1 voiced, 0 not, -1 a bad frame. */
typedef int (*VadProcess)(void *vad, int rate, const int16_t *frame, int samples);

enum { EV_STARTED = 1, EV_AUDIO = 2, EV_ENDED = 3, EV_DROPPED = 4, EV_PAUSED = 5, EV_RESUMED = 6 };
enum { END_SILENCE = 0, END_MAX_LENGTH = 1 };

typedef struct {
    int kind;
    size_t audio_len;  /* STARTED and AUDIO: their bytes of `EventQueue.audio`, in order */
    int speech_ms;     /* ENDED, DROPPED */
    int silence_ms;    /* ENDED: the trailing silence; PAUSED: the quiet so far */
    int utterance_ms;  /* ENDED */
    int reason;        /* ENDED: END_SILENCE or END_MAX_LENGTH */
    int end_silence_ms; /* STARTED: the silence that will end this utterance (`expect` at its onset) */
    double heard_at;   /* ENDED: CLOCK_MONOTONIC seconds of the feed with the last heard frame */
} Event;

/* What the endpointer found, in order; consecutive AUDIO merge into one. */
typedef struct {
    Event *items;
    size_t count, cap;
    Buf audio;
} EventQueue;

typedef struct {
    int rate, frame_ms, onset_ms, pre_roll_ms, min_speech_ms, max_utterance_ms, end_silence_ms, pause_ms;
    double pause_floor_rms;
} EndpointerConfig;

typedef struct {
    EndpointerConfig config;
    VadProcess process;
    void *vad;
    size_t frame_bytes, window_bytes; /* a VAD frame; the pre-roll plus onset kept outside an utterance */
    Buf pending;                       /* a piece of a VAD frame */
    Buf pre_roll;
    int speaking, paused;
    int voiced_run_ms, speech_ms, silence_ms, utterance_ms, quiet_ms;
    int next_end_silence_ms, end_silence_ms; /* for the next utterance (`expect`); of this one */
    int heard;                               /* the last feed held voice */
    double heard_at;
} Endpointer;

void endpointer_init(Endpointer *ep, const EndpointerConfig *config, VadProcess process, void *vad);
void endpointer_free(Endpointer *ep);
/* Audio of any length; events appended to `out`; `now`: the feed's time. -1: out of memory. */
int endpointer_feed(Endpointer *ep, const unsigned char *pcm, size_t n, double now, EventQueue *out);

void events_clear(EventQueue *queue);
void events_free(EventQueue *queue);
/* Bytes of audio at the end of the queue since its last other event (gathered for Transcribe). */
size_t events_trailing_audio(const EventQueue *queue);
/* Whether anything but audio is queued. */
int events_have_news(const EventQueue *queue);

double rms_of(const unsigned char *pcm, size_t n);

#endif
