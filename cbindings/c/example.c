/*
 * The C API end to end: two threads record on two tracks, the tracks close,
 * a consumer drains every report, and the sums are checked against what the
 * threads recorded and against trackstats_track_totals. Exits non-zero on any
 * mismatch.
 */
#define _POSIX_C_SOURCE 200809L
#include <inttypes.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "trackstats.h"

#define TRACKS 2
#define MESSAGES_PER_THREAD 200000

static int failures = 0;

#define CHECK(cond, ...)                                                       \
    do {                                                                       \
        if (!(cond)) {                                                         \
            fprintf(stderr, "FAIL %s:%d: ", __FILE__, __LINE__);               \
            fprintf(stderr, __VA_ARGS__);                                      \
            fprintf(stderr, "\n");                                             \
            failures++;                                                        \
        }                                                                      \
    } while (0)

#define OK(call)                                                               \
    do {                                                                       \
        trackstats_result r_ = (call);                                         \
        if (r_ != TRACKSTATS_RESULT_OK) {                                      \
            fprintf(stderr, "%s failed: %s\n", #call, trackstats_result_str(r_)); \
            exit(1);                                                           \
        }                                                                      \
    } while (0)

typedef struct {
    trackstats_track *tracks[TRACKS];
    uint32_t seed;
    /* What this thread recorded: [track][direction] bytes and messages. */
    uint64_t bytes[TRACKS][2];
    uint64_t messages[TRACKS][2];
} writer;

static void *write_messages(void *arg) {
    writer *w = arg;
    for (int i = 0; i < MESSAGES_PER_THREAD; i++) {
        int t = i % TRACKS;
        w->seed = w->seed * 1664525u + 1013904223u; /* LCG: sizes 20..1419 */
        uint64_t n = 20 + (uint64_t)((w->seed >> 8) % 1400);
        if (i % 3 == 0) {
            trackstats_record_down(w->tracks[t], n);
            w->bytes[t][1] += n;
            w->messages[t][1] += 1;
        } else {
            trackstats_record_up(w->tracks[t], n);
            w->bytes[t][0] += n;
            w->messages[t][0] += 1;
        }
        /* The relay case: a NULL track records nothing and never crashes. */
        trackstats_record_up(NULL, n);
        if (i % 20000 == 0) {
            /* Pause now and then so the run spans several 10 ms windows. */
            struct timespec ts = {0, 3 * 1000 * 1000};
            nanosleep(&ts, NULL);
        }
    }
    return NULL;
}

int main(void) {
    printf("trackstats %s\n", trackstats_version());
    /* The header this was compiled with is the library's own version. */
    char compiled[64];
    snprintf(compiled, sizeof compiled, "%d.%d.%d", TRACKSTATS_VERSION_MAJOR, TRACKSTATS_VERSION_MINOR,
             TRACKSTATS_VERSION_PATCH);
    CHECK(strcmp(compiled, trackstats_version()) == 0, "header version %s, library %s", compiled, trackstats_version());

    trackstats_config cfg = trackstats_config_default();
    CHECK(cfg.interval_ms == TRACKSTATS_INTERVAL_DEFAULT_MS, "default interval");
    cfg.interval_ms = 10; /* short windows so the run crosses many */
    trackstats_registry *reg = NULL;
    OK(trackstats_registry_new(&cfg, &reg));

    const char *ids[TRACKS] = {"TR_alpha", "TR_beta"};
    trackstats_track *tracks[TRACKS];
    for (int t = 0; t < TRACKS; t++) {
        OK(trackstats_track_open(reg, "PA_pub", 6, ids[t], strlen(ids[t]), "DE", 2, (uint64_t)t, &tracks[t]));
    }

    writer w[2];
    pthread_t th[2];
    for (int i = 0; i < 2; i++) {
        memset(&w[i], 0, sizeof w[i]);
        memcpy(w[i].tracks, tracks, sizeof tracks);
        w[i].seed = 1234u + (uint32_t)i;
        pthread_create(&th[i], NULL, write_messages, &w[i]);
    }
    for (int i = 0; i < 2; i++) pthread_join(th[i], NULL);

    /* Totals are exact once recording stops, before any close. */
    for (int t = 0; t < TRACKS; t++) {
        trackstats_totals tot;
        OK(trackstats_track_totals(tracks[t], &tot));
        CHECK(tot.up_bytes == w[0].bytes[t][0] + w[1].bytes[t][0], "totals up bytes, track %d", t);
        CHECK(tot.down_messages == w[0].messages[t][1] + w[1].messages[t][1], "totals down messages, track %d", t);
        OK(trackstats_track_close(tracks[t]));
        OK(trackstats_track_close(tracks[t])); /* a second close is a no-op */
    }
    OK(trackstats_track_close(NULL));

    /* Drain until every track has reported its final window. */
    trackstats_batch *batch = NULL;
    OK(trackstats_batch_new(64, &batch));
    uint64_t got_bytes[TRACKS][2] = {{0}}, got_messages[TRACKS][2] = {{0}};
    int finals = 0, reports = 0;
    while (finals < TRACKS * 2) {
        trackstats_result r = trackstats_registry_wait(reg, batch, 2000);
        CHECK(r == TRACKSTATS_RESULT_OK, "wait: %s", trackstats_result_str(r));
        size_t len = 0;
        const trackstats_report *rs = trackstats_batch_reports(batch, &len);
        if (r != TRACKSTATS_RESULT_OK || len == 0) break;
        for (size_t i = 0; i < len; i++) {
            const trackstats_report *x = &rs[i];
            CHECK(x->user_data < TRACKS, "user_data");
            CHECK(x->end_unix_ns >= x->start_unix_ns, "window order");
            CHECK(x->track_id_len == strlen(ids[x->user_data]) &&
                      memcmp(x->track_id, ids[x->user_data], x->track_id_len) == 0,
                  "key carries the track id");
            got_bytes[x->user_data][x->direction] += x->bytes;
            got_messages[x->user_data][x->direction] += x->messages;
            if (x->flags & TRACKSTATS_FLAG_FINAL) finals++;
            reports++;
        }
    }

    for (int t = 0; t < TRACKS; t++) {
        for (int d = 0; d < 2; d++) {
            uint64_t want_b = w[0].bytes[t][d] + w[1].bytes[t][d];
            uint64_t want_m = w[0].messages[t][d] + w[1].messages[t][d];
            CHECK(got_bytes[t][d] == want_b, "track %d dir %d: reported %" PRIu64 " bytes, recorded %" PRIu64, t, d,
                  got_bytes[t][d], want_b);
            CHECK(got_messages[t][d] == want_m, "track %d dir %d: reported %" PRIu64 " messages, recorded %" PRIu64, t,
                  d, got_messages[t][d], want_m);
        }
    }

    trackstats_stats st;
    OK(trackstats_registry_stats(reg, &st));
    printf("%d reports (%" PRIu64 " ticks, %" PRIu64 " merged); every byte and message accounted for: %s\n", reports,
           st.ticks, st.reports_merged, failures ? "NO" : "yes");

    for (int t = 0; t < TRACKS; t++) trackstats_track_release(tracks[t]);
    trackstats_track_release(NULL);
    trackstats_batch_free(batch);
    trackstats_registry_free(reg);
    trackstats_registry_free(NULL);
    return failures ? 1 : 0;
}
