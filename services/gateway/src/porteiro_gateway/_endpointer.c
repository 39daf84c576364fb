/* The endpointer in C (see _endpointer.h): one VAD frame at a time, as the model in the tests. */
#include "_endpointer.h"

#include <math.h>

/* Root mean square of int16 little-endian samples, as endpointing.rms_numpy computes it (the sum
 * of squares exact in int64, one correctly rounded division, sqrt): the same float. */
double rms_of(const unsigned char *pcm, size_t n) {
    size_t samples = n / 2;
    int64_t sum = 0;
    for (size_t i = 0; i < samples; i++) {
        int16_t sample = (int16_t)(pcm[2 * i] | (pcm[2 * i + 1] << 8));
        sum += (int64_t)sample * sample;
    }
    return samples ? sqrt((double)sum / (double)samples) : 0.0;
}

void endpointer_init(Endpointer *ep, const EndpointerConfig *config, VadProcess process, void *vad) {
    memset(ep, 0, sizeof *ep);
    ep->config = *config;
    ep->process = process;
    ep->vad = vad;
    ep->frame_bytes = (size_t)(config->rate * config->frame_ms / 1000 * 2);
    size_t window = (size_t)((config->pre_roll_ms + config->onset_ms) / config->frame_ms + 1);
    ep->window_bytes = window * ep->frame_bytes;
    ep->next_end_silence_ms = ep->end_silence_ms = config->end_silence_ms;
}

void endpointer_free(Endpointer *ep) {
    buf_free(&ep->pending);
    buf_free(&ep->pre_roll);
}

void events_clear(EventQueue *queue) {
    queue->count = 0;
    buf_consume(&queue->audio, queue->audio.len);
}

void events_free(EventQueue *queue) {
    free(queue->items);
    buf_free(&queue->audio);
    memset(queue, 0, sizeof *queue);
}

size_t events_trailing_audio(const EventQueue *queue) {
    if (!queue->count || queue->items[queue->count - 1].kind != EV_AUDIO) return 0;
    return queue->items[queue->count - 1].audio_len;
}

int events_have_news(const EventQueue *queue) {
    for (size_t i = 0; i < queue->count; i++)
        if (queue->items[i].kind != EV_AUDIO) return 1;
    return 0;
}

static Event *add_event(EventQueue *queue, int kind) {
    if (queue->count == queue->cap) {
        size_t cap = queue->cap ? queue->cap * 2 : 8;
        Event *grown = realloc(queue->items, cap * sizeof *grown);
        if (!grown) return NULL;
        queue->items = grown;
        queue->cap = cap;
    }
    Event *event = &queue->items[queue->count++];
    memset(event, 0, sizeof *event);
    event->kind = kind;
    return event;
}

/* The utterance's audio: appended to the AUDIO event at the end of the queue, or a new one. */
static int add_audio(EventQueue *queue, const unsigned char *pcm, size_t n) {
    Event *last = queue->count ? &queue->items[queue->count - 1] : NULL;
    if (!last || last->kind != EV_AUDIO) last = add_event(queue, EV_AUDIO);
    if (!last || buf_append(&queue->audio, pcm, n) < 0) return -1;
    last->audio_len += n;
    return 0;
}

/* Outside an utterance: keep the frame in the pre-roll; at the onset, start the utterance. */
static int await_onset(Endpointer *ep, const unsigned char *frame, int voiced, double now, EventQueue *out) {
    Buf *pre_roll = &ep->pre_roll;
    if (buf_append(pre_roll, frame, ep->frame_bytes) < 0) return -1;
    if (pre_roll->len > ep->window_bytes) buf_consume(pre_roll, pre_roll->len - ep->window_bytes);
    if (voiced) {
        ep->heard = 1;
        ep->heard_at = now;
    }
    if (ep->voiced_run_ms < ep->config.onset_ms) return 0;
    Event *started = add_event(out, EV_STARTED);
    if (!started || buf_append(&out->audio, pre_roll->data + pre_roll->start, pre_roll->len) < 0) return -1;
    started->audio_len = pre_roll->len;
    started->end_silence_ms = ep->next_end_silence_ms;
    ep->speaking = 1;
    ep->paused = 0;
    ep->quiet_ms = ep->silence_ms = 0;
    ep->speech_ms = ep->voiced_run_ms;
    ep->utterance_ms = (int)(pre_roll->len / ep->frame_bytes) * ep->config.frame_ms;
    ep->end_silence_ms = ep->next_end_silence_ms;
    buf_consume(pre_roll, pre_roll->len);
    return 0;
}

/* Inside an utterance: its audio, counters, pause (SpeechPaused once, SpeechResumed when voice
 * comes back), and its end (`end_silence_ms` of silence, or `max_utterance_ms`). */
static int in_utterance(Endpointer *ep, const unsigned char *frame, int voiced, double now, EventQueue *out) {
    const EndpointerConfig *config = &ep->config;
    int step = config->frame_ms;
    if (add_audio(out, frame, ep->frame_bytes) < 0) return -1;
    ep->utterance_ms += step;
    if (voiced) {
        ep->speech_ms += step;
        ep->silence_ms = 0;
    } else {
        ep->silence_ms += step;
    }
    int loud = voiced;
    if (config->pause_ms) {
        if (voiced && config->pause_floor_rms > 0) /* webrtcvad's hangover: quiet voiced frames too */
            loud = rms_of(frame, ep->frame_bytes) >= config->pause_floor_rms;
        if (loud) {
            ep->quiet_ms = 0;
            if (ep->paused) {
                ep->paused = 0;
                if (!add_event(out, EV_RESUMED)) return -1;
            }
        } else {
            ep->quiet_ms += step;
            if (!ep->paused && config->pause_ms <= ep->quiet_ms && ep->silence_ms < ep->end_silence_ms &&
                ep->speech_ms >= config->min_speech_ms) {
                ep->paused = 1;
                Event *paused = add_event(out, EV_PAUSED);
                if (!paused) return -1;
                paused->silence_ms = ep->quiet_ms;
            }
        }
    }
    if (loud) {
        ep->heard = 1;
        ep->heard_at = now;
    }
    int reason = -1;
    if (ep->silence_ms >= ep->end_silence_ms)
        reason = END_SILENCE;
    else if (ep->utterance_ms >= config->max_utterance_ms)
        reason = END_MAX_LENGTH;
    if (reason < 0) return 0;
    ep->speaking = ep->paused = 0;
    Event *end = add_event(out, ep->speech_ms < config->min_speech_ms ? EV_DROPPED : EV_ENDED);
    if (!end) return -1;
    end->speech_ms = ep->speech_ms;
    end->silence_ms = ep->silence_ms;
    end->utterance_ms = ep->utterance_ms;
    end->reason = reason;
    end->heard_at = ep->heard_at;
    return 0;
}

static int one_frame(Endpointer *ep, const unsigned char *frame, double now, EventQueue *out) {
    int samples = (int)(ep->frame_bytes / 2);
    int16_t aligned[MAX_VAD_FRAME_SAMPLES]; /* webrtcvad reads int16s: hand it aligned ones */
    memcpy(aligned, frame, ep->frame_bytes);
    int voiced = ep->process(ep->vad, ep->config.rate, aligned, samples) == 1;
    ep->voiced_run_ms = voiced ? ep->voiced_run_ms + ep->config.frame_ms : 0;
    if (!ep->speaking) return await_onset(ep, frame, voiced, now, out);
    return in_utterance(ep, frame, voiced, now, out);
}

int endpointer_feed(Endpointer *ep, const unsigned char *pcm, size_t n, double now, EventQueue *out) {
    size_t size = ep->frame_bytes, offset = 0;
    ep->heard = 0;
    if (ep->pending.len) { /* complete the piece of a frame that is waiting */
        size_t wanted = size - ep->pending.len, taken = n < wanted ? n : wanted;
        if (buf_append(&ep->pending, pcm, taken) < 0) return -1;
        offset = taken;
        if (ep->pending.len < size) return 0;
        int failed = one_frame(ep, ep->pending.data + ep->pending.start, now, out);
        buf_consume(&ep->pending, ep->pending.len);
        if (failed) return -1;
    }
    for (; n - offset >= size; offset += size)
        if (one_frame(ep, pcm + offset, now, out) < 0) return -1;
    if (offset < n && buf_append(&ep->pending, pcm + offset, n - offset) < 0) return -1;
    return 0;
}
