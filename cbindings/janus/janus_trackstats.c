/*
 * janus.plugin.trackstats: a Janus echo plugin that counts with trackstats.
 *
 * Each peer's RTP and data-channel messages come back to it. On the way,
 * one record per packet: UPSTREAM for what the peer sent to Janus (the RTP
 * packet, header and payload, as Janus hands it to the plugin after SRTP; a
 * data-channel message's payload), DOWNSTREAM for what the plugin hands
 * Janus to send to the peer (the same units). RTCP is relayed, not counted.
 *
 * One registry per Janus process, created at init and closed at destroy.
 * A track per (session, stream): the participant is the session's
 * (`"participant"` in the start request, or `session-<n>`), the track id
 * is the m-line's `<kind>:<mid>` ("audio:0", "video:1", "data:2"; all the
 * data channels of a session share the application m-line's track). Reports
 * reach Janus's log through the registry's callback sink (and Janus's event
 * handlers, when enabled); the Prometheus text answers a `metrics` request.
 *
 * Requests (plugin messages):
 *   {"request": "start", "participant": "alice", "country": "DE"} + offer
 *       answers the offer (every m-line sendrecv, echoed) and opens the
 *       session's tracks; the answer comes in an event.
 *   {"request": "metrics"}
 *       synchronous: {"trackstats": "metrics", "text": "<exposition>"}.
 *
 * Threads: Janus delivers a handle's media on that handle's loop thread and
 * calls destroy_session there too, after marking the plugin session stopped;
 * requests run on Janus's request threads, offers on this plugin's handler
 * thread, the sink on the registry's sampler thread. Track pointers are
 * published with glib atomics (full barriers) and released only when the
 * session's last reference goes.
 *
 * Configuration (janus.plugin.trackstats.jcfg, general section):
 *   interval_ms = 5000    the report window
 *   events = true         also hand reports to Janus's event handlers
 */
#include <inttypes.h>
#include <jansson.h>
#include <string.h>

#include "config.h"
#include "debug.h"
#include "mutex.h"
#include "plugins/plugin.h"
#include "refcount.h"
#include "rtp.h"
#include "sdp-utils.h"
#include "utils.h"

#include <trackstats.h>

#define TS_NAME "trackstats"
#define TS_PACKAGE "janus.plugin.trackstats"
#define TS_VERSION 1
/* An echo needs few m-lines; an offer with more is refused, so a stream's
 * track is always at media[mindex]. */
#define TS_MAX_STREAMS 32

#define TS_ERROR_INVALID_REQUEST 490
#define TS_ERROR_INVALID_SDP 491
#define TS_ERROR_TRACKSTATS 492

/* Janus's plugin interface. */
janus_plugin *create(void) __attribute__((visibility("default")));
static int ts_init(janus_callbacks *callback, const char *config_path);
static void ts_destroy(void);
static int ts_get_api_compatibility(void) { return JANUS_PLUGIN_API_VERSION; }
static int ts_get_version(void) { return TS_VERSION; }
static const char *ts_get_version_string(void) { return "1"; }
static const char *ts_get_description(void) { return "Echoes RTP and data channels, counted by trackstats"; }
static const char *ts_get_name(void) { return TS_NAME; }
static const char *ts_get_author(void) { return "trackstats"; }
static const char *ts_get_package(void) { return TS_PACKAGE; }
static void ts_create_session(janus_plugin_session *handle, int *error);
static struct janus_plugin_result *ts_handle_message(janus_plugin_session *handle, char *transaction,
                                                     json_t *message, json_t *jsep);
static void ts_setup_media(janus_plugin_session *handle);
static void ts_incoming_rtp(janus_plugin_session *handle, janus_plugin_rtp *packet);
static void ts_incoming_rtcp(janus_plugin_session *handle, janus_plugin_rtcp *packet);
static void ts_incoming_data(janus_plugin_session *handle, janus_plugin_data *packet);
static void ts_hangup_media(janus_plugin_session *handle);
static void ts_destroy_session(janus_plugin_session *handle, int *error);
static json_t *ts_query_session(janus_plugin_session *handle);

/* Designated initializers leave the rest NULL (JANUS_PLUGIN_INIT would set
 * every field twice, which -Woverride-init rejects). */
static janus_plugin ts_plugin = {
    .init = ts_init,
    .destroy = ts_destroy,
    .get_api_compatibility = ts_get_api_compatibility,
    .get_version = ts_get_version,
    .get_version_string = ts_get_version_string,
    .get_description = ts_get_description,
    .get_name = ts_get_name,
    .get_author = ts_get_author,
    .get_package = ts_get_package,
    .create_session = ts_create_session,
    .handle_message = ts_handle_message,
    .setup_media = ts_setup_media,
    .incoming_rtp = ts_incoming_rtp,
    .incoming_rtcp = ts_incoming_rtcp,
    .incoming_data = ts_incoming_data,
    .hangup_media = ts_hangup_media,
    .destroy_session = ts_destroy_session,
    .query_session = ts_query_session,
};

janus_plugin *create(void) { return &ts_plugin; }

static janus_callbacks *gateway;
static trackstats_registry *registry;
static gboolean notify_events = TRUE;
static volatile gint initialized, stopping;
static volatile gint session_count;

typedef struct ts_session {
    janus_plugin_session *handle;
    /* Guards participant and country (written by the handler thread) and
     * orders a hangup against an offer replacing the tracks. */
    janus_mutex mutex;
    char *participant;
    char *country;
    /* Indexed by mindex; NULL (a no-op for trackstats) until negotiated. */
    trackstats_track *media[TS_MAX_STREAMS];
    /* The application m-line's track: Janus's data messages carry no mindex. */
    trackstats_track *data;
    /* Tracks a hangup closed and a later offer replaced; released with the
     * session, when no thread can still be recording on them. */
    GPtrArray *retired;
    /* Set by a hangup: the next offer opens fresh tracks. */
    volatile gint hung_up;
    volatile gint destroyed;
    janus_refcount ref;
} ts_session;

static GHashTable *sessions;
static janus_mutex sessions_mutex = JANUS_MUTEX_INITIALIZER;

/* Offers are answered on one handler thread, as Janus's own plugins do. */
typedef struct ts_message {
    janus_plugin_session *handle;
    char *transaction;
    json_t *message;
    json_t *jsep;
} ts_message;
static GAsyncQueue *messages;
static ts_message exit_message;
static GThread *handler_thread;

/* ---- reports: the registry's sink, on its sampler thread ---- */

static const char *ts_direction_name(trackstats_direction d) {
    return d == TRACKSTATS_DIRECTION_UP ? "UPSTREAM" : "DOWNSTREAM";
}

static void ts_sink(void *ctx, const trackstats_report *reports, size_t len) {
    (void)ctx;
    gboolean events = notify_events && gateway->events_is_enabled();
    for (size_t i = 0; i < len; i++) {
        const trackstats_report *r = &reports[i];
        /* One line per report; the strings live only during this call. */
        JANUS_LOG(LOG_INFO,
                  "[" TS_NAME "] report participant=%.*s track=%.*s country=%.*s direction=%s bytes=%" PRIu64
                  " messages=%" PRIu64 " start_ns=%" PRIu64 " end_ns=%" PRIu64 " flags=%s%s%s lost=%" PRIu64
                  " frames=%" PRIu64 "\n",
                  (int)r->participant_id_len, r->participant_id, (int)r->track_id_len, r->track_id,
                  (int)r->country_len, r->country, ts_direction_name(r->direction), r->bytes, r->messages,
                  r->start_unix_ns, r->end_unix_ns, (r->flags & TRACKSTATS_FLAG_FINAL) ? "F" : "-",
                  (r->flags & TRACKSTATS_FLAG_LATE) ? "L" : "-", (r->flags & TRACKSTATS_FLAG_MERGED) ? "M" : "-",
                  r->packets_lost, r->frames);
        if (!events)
            continue;
        json_t *event = json_pack("{s:s, s:s%, s:s%, s:s%, s:s, s:I, s:I, s:I, s:I, s:i}", "event", "report",
                                  "participant", r->participant_id, r->participant_id_len, "track", r->track_id,
                                  r->track_id_len, "country", r->country, r->country_len, "direction",
                                  ts_direction_name(r->direction), "bytes", (json_int_t)r->bytes, "messages",
                                  (json_int_t)r->messages, "start_ns", (json_int_t)r->start_unix_ns, "end_ns",
                                  (json_int_t)r->end_unix_ns, "flags", (int)r->flags);
        if (event != NULL)
            gateway->notify_event(&ts_plugin, NULL, event); /* takes the reference */
    }
}

/* ---- sessions ---- */

static void ts_session_free(const janus_refcount *ref) {
    ts_session *s = janus_refcount_containerof(ref, ts_session, ref);
    for (int i = 0; i < TS_MAX_STREAMS; i++)
        trackstats_track_release(s->media[i]);
    trackstats_track_release(s->data);
    g_ptr_array_free(s->retired, TRUE);
    g_free(s->participant);
    g_free(s->country);
    janus_mutex_destroy(&s->mutex);
    janus_refcount_decrease(&s->handle->ref);
    g_free(s);
}

/* The hash table's value destructor: the table's reference goes. */
static void ts_session_destroy(ts_session *s) {
    if (s != NULL && g_atomic_int_compare_and_exchange(&s->destroyed, 0, 1)) {
        janus_refcount_decrease(&s->ref);
    }
}

/* A new reference to the handle's live session, or NULL. */
static ts_session *ts_session_get(janus_plugin_session *handle) {
    janus_mutex_lock(&sessions_mutex);
    ts_session *s = sessions != NULL ? g_hash_table_lookup(sessions, handle) : NULL;
    if (s != NULL && !g_atomic_int_get(&s->destroyed)) {
        janus_refcount_increase(&s->ref);
    } else {
        s = NULL;
    }
    janus_mutex_unlock(&sessions_mutex);
    return s;
}

static void ts_create_session(janus_plugin_session *handle, int *error) {
    if (g_atomic_int_get(&stopping) || !g_atomic_int_get(&initialized)) {
        *error = -1;
        return;
    }
    ts_session *s = g_malloc0(sizeof *s);
    s->handle = handle;
    s->participant = g_strdup_printf("session-%d", g_atomic_int_add(&session_count, 1) + 1);
    s->country = g_strdup("");
    s->retired = g_ptr_array_new_with_free_func((GDestroyNotify)trackstats_track_release);
    janus_mutex_init(&s->mutex);
    janus_refcount_init(&s->ref, ts_session_free);
    /* The session holds Janus's plugin session until it is freed. */
    janus_refcount_increase(&handle->ref);
    handle->plugin_handle = s;
    janus_mutex_lock(&sessions_mutex);
    g_hash_table_insert(sessions, handle, s);
    janus_mutex_unlock(&sessions_mutex);
}

/* Closes every track of the session: final reports follow within
 * milliseconds; records that still arrive are reported late. */
static void ts_session_close_tracks(ts_session *s) {
    for (int i = 0; i < TS_MAX_STREAMS; i++)
        trackstats_track_close(g_atomic_pointer_get(&s->media[i]));
    trackstats_track_close(g_atomic_pointer_get(&s->data));
}

static void ts_destroy_session(janus_plugin_session *handle, int *error) {
    if (g_atomic_int_get(&stopping) || !g_atomic_int_get(&initialized)) {
        *error = -1;
        return;
    }
    janus_mutex_lock(&sessions_mutex);
    ts_session *s = g_hash_table_lookup(sessions, handle);
    if (s == NULL) {
        janus_mutex_unlock(&sessions_mutex);
        *error = -2;
        return;
    }
    ts_session_close_tracks(s);
    g_hash_table_remove(sessions, handle);
    janus_mutex_unlock(&sessions_mutex);
}

static json_t *ts_query_session(janus_plugin_session *handle) {
    ts_session *s = ts_session_get(handle);
    if (s == NULL)
        return NULL;
    janus_mutex_lock(&s->mutex);
    json_t *info = json_pack("{s:s, s:s}", "participant", s->participant, "country", s->country);
    janus_mutex_unlock(&s->mutex);
    janus_refcount_decrease(&s->ref);
    return info;
}

/* ---- media: one record per packet and direction ---- */

static void ts_incoming_rtp(janus_plugin_session *handle, janus_plugin_rtp *packet) {
    if (handle == NULL || g_atomic_int_get(&handle->stopped) || g_atomic_int_get(&stopping))
        return;
    ts_session *s = handle->plugin_handle;
    if (s == NULL || g_atomic_int_get(&s->destroyed) || packet->mindex < 0 || packet->mindex >= TS_MAX_STREAMS)
        return;
    trackstats_track *t = g_atomic_pointer_get(&s->media[packet->mindex]);
    const janus_rtp_header *rtp = (const janus_rtp_header *)packet->buffer;
    /* An audio packet is a frame of its own; video frames end at the marker. */
    trackstats_record_up_packet(t, packet->length, ntohs(rtp->seq_number), !packet->video || rtp->markerbit);
    gateway->relay_rtp(handle, packet);
    trackstats_record_down(t, packet->length);
}

static void ts_incoming_rtcp(janus_plugin_session *handle, janus_plugin_rtcp *packet) {
    if (handle == NULL || g_atomic_int_get(&handle->stopped) || g_atomic_int_get(&stopping))
        return;
    gateway->relay_rtcp(handle, packet);
}

static void ts_incoming_data(janus_plugin_session *handle, janus_plugin_data *packet) {
    if (handle == NULL || g_atomic_int_get(&handle->stopped) || g_atomic_int_get(&stopping))
        return;
    ts_session *s = handle->plugin_handle;
    if (s == NULL || g_atomic_int_get(&s->destroyed) || packet->buffer == NULL || packet->length == 0)
        return;
    trackstats_track *t = g_atomic_pointer_get(&s->data);
    trackstats_record_up(t, packet->length);
    gateway->relay_data(handle, packet);
    trackstats_record_down(t, packet->length);
}

static void ts_setup_media(janus_plugin_session *handle) {
    ts_session *s = ts_session_get(handle);
    if (s == NULL)
        return;
    janus_mutex_lock(&s->mutex);
    JANUS_LOG(LOG_INFO, "[" TS_NAME "] %s: PeerConnection up\n", s->participant);
    janus_mutex_unlock(&s->mutex);
    janus_refcount_decrease(&s->ref);
}

static void ts_hangup_media(janus_plugin_session *handle) {
    ts_session *s = ts_session_get(handle);
    if (s == NULL)
        return;
    janus_mutex_lock(&s->mutex);
    g_atomic_int_set(&s->hung_up, 1);
    ts_session_close_tracks(s);
    janus_mutex_unlock(&s->mutex);
    janus_refcount_decrease(&s->ref);
}

/* ---- requests ---- */

static json_t *ts_error(int code, const char *reason) {
    return json_pack("{s:s, s:i, s:s}", "trackstats", "error", "error_code", code, "error", reason);
}

/* The Prometheus exposition, or an error object. */
static json_t *ts_metrics(void) {
    trackstats_prometheus_options options = {.per_track = true, .max_track_series = 1000};
    char *text = NULL;
    size_t len = 0;
    trackstats_result rc = trackstats_registry_prometheus(registry, &options, &text, &len);
    if (rc != TRACKSTATS_RESULT_OK)
        return ts_error(TS_ERROR_TRACKSTATS, trackstats_result_str(rc));
    json_t *reply = json_pack("{s:s, s:s%}", "trackstats", "metrics", "text", text, len);
    trackstats_string_free(text);
    return reply;
}

static struct janus_plugin_result *ts_handle_message(janus_plugin_session *handle, char *transaction,
                                                     json_t *message, json_t *jsep) {
    if (g_atomic_int_get(&stopping) || !g_atomic_int_get(&initialized)) {
        json_decref(message);
        json_decref(jsep);
        return janus_plugin_result_new(JANUS_PLUGIN_ERROR, "shutting down", NULL);
    }
    const char *request = json_string_value(json_object_get(message, "request"));
    json_t *reply = NULL;
    if (request != NULL && !strcmp(request, "metrics")) {
        reply = ts_metrics();
    } else if (request != NULL && !strcmp(request, "start") && jsep != NULL) {
        ts_session *s = ts_session_get(handle);
        if (s == NULL) {
            reply = ts_error(TS_ERROR_INVALID_REQUEST, "no session");
        } else {
            ts_message *m = g_malloc(sizeof *m);
            m->handle = handle;
            m->transaction = g_strdup(transaction);
            m->message = message;
            m->jsep = jsep;
            janus_refcount_decrease(&s->ref);
            /* Janus's plugin session outlives the queued message. */
            janus_refcount_increase(&handle->ref);
            g_async_queue_push(messages, m);
            return janus_plugin_result_new(JANUS_PLUGIN_OK_WAIT, NULL, NULL);
        }
    } else {
        reply = ts_error(TS_ERROR_INVALID_REQUEST, "expected {\"request\": \"start\"} with an offer, or \"metrics\"");
    }
    json_decref(message);
    json_decref(jsep);
    return janus_plugin_result_new(JANUS_PLUGIN_OK, NULL, reply);
}

/* The request's optional string field, NULL when absent, or an error. */
static const char *ts_string_field(json_t *message, const char *name, gboolean *bad) {
    json_t *v = json_object_get(message, name);
    if (v == NULL)
        return NULL;
    if (!json_is_string(v))
        *bad = TRUE;
    return json_string_value(v);
}

/* Opens a track for `<kind>:<mid>` (kind: audio, video or data); NULL with
 * the reason on failure. */
static trackstats_track *ts_open(ts_session *s, janus_sdp_mline *m, const char **reason) {
    const char *mid = NULL;
    for (GList *a = m->attributes; a != NULL; a = a->next) {
        janus_sdp_attribute *attr = a->data;
        if (attr->name != NULL && !strcasecmp(attr->name, "mid"))
            mid = attr->value;
    }
    const char *kind = m->type == JANUS_SDP_APPLICATION ? "data" : m->type_str;
    char *track_id = mid != NULL ? g_strdup_printf("%s:%s", kind, mid) : g_strdup_printf("%s:%d", kind, m->index);
    trackstats_track *t = NULL;
    trackstats_result rc = trackstats_track_open(registry, s->participant, strlen(s->participant), track_id,
                                                 strlen(track_id), s->country, strlen(s->country), 0, &t);
    g_free(track_id);
    *reason = trackstats_result_str(rc);
    return rc == TRACKSTATS_RESULT_OK ? t : NULL;
}

/* Puts `t` in `slot`; the closed track it replaces retires until the
 * session goes, as a straggling record may still reach it. */
static void ts_publish(ts_session *s, trackstats_track **slot, trackstats_track *t) {
    trackstats_track *old = g_atomic_pointer_get(slot);
    g_atomic_pointer_set(slot, t);
    if (old != NULL)
        g_ptr_array_add(s->retired, old);
}

/* Answers the offer, every m-line echoed, and opens the session's tracks.
 * Returns NULL with an error event in `*error`. */
static json_t *ts_answer(ts_session *s, json_t *message, json_t *jsep, json_t **error) {
    gboolean bad = FALSE;
    const char *participant = ts_string_field(message, "participant", &bad);
    const char *country = ts_string_field(message, "country", &bad);
    const char *type = json_string_value(json_object_get(jsep, "type"));
    const char *sdp = json_string_value(json_object_get(jsep, "sdp"));
    if (bad || type == NULL || strcmp(type, "offer") || sdp == NULL) {
        *error = ts_error(TS_ERROR_INVALID_REQUEST, "start needs string participant/country and an SDP offer");
        return NULL;
    }
    char parse_error[256];
    janus_sdp *offer = janus_sdp_parse(sdp, parse_error, sizeof parse_error);
    if (offer == NULL) {
        *error = ts_error(TS_ERROR_INVALID_SDP, parse_error);
        return NULL;
    }
    if (g_list_length(offer->m_lines) > TS_MAX_STREAMS) {
        janus_sdp_destroy(offer);
        *error = ts_error(TS_ERROR_INVALID_SDP, "too many m-lines");
        return NULL;
    }
    /* Held until the tracks are published: a hangup closes either the old
     * tracks before this or the new ones after. */
    janus_mutex_lock(&s->mutex);
    if (participant != NULL) {
        g_free(s->participant);
        s->participant = g_strdup(participant);
    }
    if (country != NULL) {
        g_free(s->country);
        s->country = g_strdup(country);
    }
    /* Header extensions are not accepted: Janus rewrites them on the way out,
     * and without them DOWNSTREAM is exactly what the peer receives. */
    janus_sdp *answer = janus_sdp_generate_answer(offer);
    for (GList *l = offer->m_lines; l != NULL; l = l->next) {
        janus_sdp_mline *m = l->data;
        janus_sdp_generate_answer_mline(offer, answer, m, JANUS_SDP_OA_MLINE, m->type, JANUS_SDP_OA_DONE);
    }
    /* A renegotiation keeps the open tracks; after a hangup closed them, the
     * new PeerConnection gets fresh ones. */
    gboolean fresh = g_atomic_int_compare_and_exchange(&s->hung_up, 1, 0);
    const char *reason = NULL;
    for (GList *l = answer->m_lines; l != NULL && *error == NULL; l = l->next) {
        janus_sdp_mline *m = l->data;
        if (m->port == 0 || m->direction == JANUS_SDP_INACTIVE)
            continue;
        trackstats_track **slot = m->type == JANUS_SDP_APPLICATION ? &s->data
                                  : (m->type == JANUS_SDP_AUDIO || m->type == JANUS_SDP_VIDEO) ? &s->media[m->index]
                                                                                               : NULL;
        if (slot == NULL || (g_atomic_pointer_get(slot) != NULL && !fresh))
            continue;
        trackstats_track *t = ts_open(s, m, &reason);
        if (t == NULL)
            *error = ts_error(TS_ERROR_TRACKSTATS, reason);
        else
            ts_publish(s, slot, t);
    }
    janus_mutex_unlock(&s->mutex);
    char *answer_sdp = *error == NULL ? janus_sdp_write(answer) : NULL;
    janus_sdp_destroy(offer);
    janus_sdp_destroy(answer);
    if (answer_sdp == NULL) {
        if (*error == NULL)
            *error = ts_error(TS_ERROR_INVALID_SDP, "could not write the answer");
        return NULL;
    }
    json_t *reply = json_pack("{s:s, s:s}", "type", "answer", "sdp", answer_sdp);
    g_free(answer_sdp);
    return reply;
}

static void *ts_handler(void *data) {
    (void)data;
    for (;;) {
        ts_message *m = g_async_queue_pop(messages);
        if (m == &exit_message)
            break;
        ts_session *s = ts_session_get(m->handle);
        if (s != NULL) {
            json_t *error = NULL;
            json_t *answer = ts_answer(s, m->message, m->jsep, &error);
            json_t *event = error != NULL ? error
                                          : json_pack("{s:s, s:s}", "trackstats", "event", "result", "ok");
            int rc = gateway->push_event(m->handle, &ts_plugin, m->transaction, event, answer);
            if (rc != 0)
                JANUS_LOG(LOG_WARN, "[" TS_NAME "] push_event failed (%d)\n", rc);
            json_decref(event);
            json_decref(answer);
            janus_refcount_decrease(&s->ref);
        }
        janus_refcount_decrease(&m->handle->ref);
        g_free(m->transaction);
        json_decref(m->message);
        json_decref(m->jsep);
        g_free(m);
    }
    return NULL;
}

/* ---- lifecycle ---- */

static int ts_init(janus_callbacks *callback, const char *config_path) {
    if (callback == NULL || config_path == NULL || g_atomic_int_get(&initialized))
        return -1;
    trackstats_config config = trackstats_config_default();
    char *file = g_strdup_printf("%s/%s.jcfg", config_path, TS_PACKAGE);
    janus_config *jcfg = janus_config_parse(file);
    g_free(file);
    if (jcfg != NULL) {
        janus_config_category *general =
            janus_config_get_create(jcfg, NULL, janus_config_type_category, "general");
        janus_config_item *item = janus_config_get(jcfg, general, janus_config_type_item, "interval_ms");
        if (item != NULL && item->value != NULL)
            config.interval_ms = g_ascii_strtoull(item->value, NULL, 10);
        item = janus_config_get(jcfg, general, janus_config_type_item, "events");
        if (item != NULL && item->value != NULL)
            notify_events = janus_is_true(item->value);
        janus_config_destroy(jcfg);
    }
    gateway = callback;
    config.sink = ts_sink;
    trackstats_result rc = trackstats_registry_new(&config, &registry);
    if (rc != TRACKSTATS_RESULT_OK) {
        JANUS_LOG(LOG_ERR, "[" TS_NAME "] registry: %s (interval_ms %" PRIu64 ")\n", trackstats_result_str(rc),
                  config.interval_ms);
        return -1;
    }
    sessions = g_hash_table_new_full(NULL, NULL, NULL, (GDestroyNotify)ts_session_destroy);
    messages = g_async_queue_new();
    GError *error = NULL;
    handler_thread = g_thread_try_new(TS_NAME " handler", ts_handler, NULL, &error);
    if (handler_thread == NULL) {
        JANUS_LOG(LOG_ERR, "[" TS_NAME "] handler thread: %s\n", error != NULL ? error->message : "?");
        g_clear_error(&error);
        g_hash_table_destroy(sessions);
        g_async_queue_unref(messages);
        trackstats_registry_free(registry);
        registry = NULL;
        return -1;
    }
    g_atomic_int_set(&initialized, 1);
    JANUS_LOG(LOG_INFO, "[" TS_NAME "] trackstats %s, %" PRIu64 " ms windows\n", trackstats_version(),
              config.interval_ms);
    return 0;
}

static void ts_destroy(void) {
    if (!g_atomic_int_get(&initialized))
        return;
    g_atomic_int_set(&stopping, 1);
    g_async_queue_push(messages, &exit_message);
    g_thread_join(handler_thread);
    handler_thread = NULL;
    /* Every open track's final reports reach the sink before this returns;
     * sessions still open keep their tracks, whose memory outlives the
     * registry until released. */
    trackstats_registry_close(registry);
    janus_mutex_lock(&sessions_mutex);
    g_hash_table_destroy(sessions);
    sessions = NULL;
    janus_mutex_unlock(&sessions_mutex);
    trackstats_registry_free(registry);
    registry = NULL;
    g_async_queue_unref(messages);
    messages = NULL;
    g_atomic_int_set(&initialized, 0);
    g_atomic_int_set(&stopping, 0);
    JANUS_LOG(LOG_INFO, "[" TS_NAME "] destroyed\n");
}
