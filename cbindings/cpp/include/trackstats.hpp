// trackstats.hpp: the header-only C++17 layer over trackstats.h.
//
// Types (all move-only RAII over one C handle, in namespace `trackstats`):
//   Registry  owns a trackstats_registry*   (destructor: trackstats_registry_free)
//   Track     owns a trackstats_track*      (destructor: trackstats_track_release)
//   Batch     owns a trackstats_batch*      (destructor: trackstats_batch_free)
//
// Errors: constructors and control calls (Registry, Batch, open, tick, flush,
// close, stats, drain, wait, prometheus) throw trackstats::Error carrying the
// trackstats_result. The hot path (Track::record_up/record_down/
// record_up_packet), Track::close, Track::totals and every destructor never
// throw. Registry::try_open is the non-throwing way to open a track.
//
// Recording: Track::record_up/record_down do the window-word add inline on the
// slot's memory (one relaxed atomic add, like the Rust core), following the
// rule stated at trackstats_track_window_words in trackstats.h;
// Track::record_up_packet applies the packet rule stated at
// trackstats_track_packet_words the same way. A default constructed or
// moved-from Track is the NULL handle: every call on it is a no-op (the relay
// case).
//
// Lifetimes of report strings (std::string_view):
//   - from Registry::drain/wait: valid until the same Batch is filled again
//     (the next drain or wait into it), assigned to, or destroyed. Moving the
//     Batch keeps them valid (the strings live in the library's heap).
//   - in a sink callback: valid only during that call.
//   Report::to_owned() copies a report into an OwnedReport of std::strings.
//
// Reading order: the public types come first, with their documentation and
// one-line bodies; "how it works" (namespace detail and the longer member
// function bodies) follows after them.

#ifndef TRACKSTATS_HPP
#define TRACKSTATS_HPP

#include "trackstats.h"

#include <atomic>
#include <chrono>
#include <cstddef>
#include <cstdint>
#include <exception>
#include <functional>
#include <limits>
#include <memory>
#include <stdexcept>
#include <string>
#include <string_view>
#include <type_traits>
#include <utility>
#include <vector>
#if defined(__has_include)
#if __has_include(<version>)
#include <version>
#endif
#endif

#if defined(_MSVC_LANG)
#if _MSVC_LANG < 201703L
#error "trackstats.hpp needs C++17 or later"
#endif
#elif __cplusplus < 201703L
#error "trackstats.hpp needs C++17 or later"
#endif

// The oldest trackstats.h this header works with; an older one installed
// next to it fails here, not with a hundred errors below.
#if !defined(TRACKSTATS_VERSION_MAJOR) || (TRACKSTATS_VERSION_MAJOR == 0 && TRACKSTATS_VERSION_MINOR < 1)
#error "trackstats.hpp needs trackstats.h 0.1 or later (install both headers from one release)"
#endif

// Which way Track::record_* adds to the window word (detail::AtomicWord):
//   2: std::atomic_ref<std::uint64_t> (C++20, when the library has it)
//   1: the GCC/Clang __atomic builtins (C++17)
//   0: a call to trackstats_record_up/_down (no inline path; also forced by
//      defining TRACKSTATS_CPP_NO_INLINE_RECORD)
#if defined(TRACKSTATS_CPP_NO_INLINE_RECORD)
#define TRACKSTATS_CPP_RECORD_PATH 0
#elif defined(__cpp_lib_atomic_ref) && __cpp_lib_atomic_ref >= 201806L
#define TRACKSTATS_CPP_RECORD_PATH 2
#elif defined(__GNUC__) || defined(__clang__)
#define TRACKSTATS_CPP_RECORD_PATH 1
#else
#define TRACKSTATS_CPP_RECORD_PATH 0
#endif

#if defined(__GNUC__) || defined(__clang__)
#define TRACKSTATS_CPP_LIKELY(x) __builtin_expect(!!(x), 1)
#define TRACKSTATS_CPP_UNLIKELY(x) __builtin_expect(!!(x), 0)
#else
#define TRACKSTATS_CPP_LIKELY(x) (x)
#define TRACKSTATS_CPP_UNLIKELY(x) (x)
#endif

namespace trackstats {

// ============================================================================
// The public API
// ============================================================================

// ---- values ------------------------------------------------------------------

/// Traffic direction. Up is LiveKit's UPSTREAM (bytes the publisher sent us),
/// Down its DOWNSTREAM (bytes sent to a subscriber).
enum class Direction : std::uint32_t {
    Up = TRACKSTATS_DIRECTION_UP,
    Down = TRACKSTATS_DIRECTION_DOWN,
};

/// How windows are closed: by the registry's sampler thread, or by the caller
/// (Registry::tick) in manual mode.
enum class Mode : std::uint32_t {
    Thread = TRACKSTATS_MODE_THREAD,
    Manual = TRACKSTATS_MODE_MANUAL,
};

/// LiveKit's stream type name of a direction.
constexpr std::string_view stream_type(Direction d) noexcept {
    return d == Direction::Up ? std::string_view("UPSTREAM") : std::string_view("DOWNSTREAM");
}

inline constexpr std::uint32_t flag_final = TRACKSTATS_FLAG_FINAL;
inline constexpr std::uint32_t flag_late = TRACKSTATS_FLAG_LATE;
inline constexpr std::uint32_t flag_merged = TRACKSTATS_FLAG_MERGED;

/// Registry counters and track totals are the C structs, so fields added to
/// the C ABI appear here by name without a wrapper change.
using Stats = trackstats_stats;
using Totals = trackstats_totals;

/// The inline record path compiled into this translation unit (see
/// TRACKSTATS_CPP_RECORD_PATH).
enum class RecordPath { CCall = 0, Builtin = 1, AtomicRef = 2 };
inline constexpr RecordPath record_path = static_cast<RecordPath>(TRACKSTATS_CPP_RECORD_PATH);

/// The library version, e.g. "0.1.0".
inline std::string_view version() noexcept { return trackstats_version(); }

/// A static description of any result code, known or not (e.g. "the
/// participant or track id is empty" for TRACKSTATS_RESULT_EMPTY_ID).
inline std::string_view result_str(trackstats_result r) noexcept {
    return trackstats_result_str(static_cast<std::uint32_t>(r));
}

/// What constructors and control calls throw: the C call's result code and a
/// message naming the call and describing the code.
class Error : public std::runtime_error {
  public:
    Error(trackstats_result code, const char* call)
        : std::runtime_error(std::string("trackstats: ") + call + ": " + std::string(result_str(code))), code_(code) {}

    trackstats_result code() const noexcept { return code_; }

  private:
    trackstats_result code_;
};

// ---- reports -----------------------------------------------------------------

/// One (track, direction, window) delta, with its strings as `Text`:
/// std::string_view in Report (borrowed), std::string in OwnedReport.
template <class Text>
struct BasicReport {
    std::uint64_t user_data = 0;
    std::uint64_t bytes = 0;
    std::uint64_t messages = 0;
    /// Window start and end, Unix ns.
    std::uint64_t start_unix_ns = 0;
    std::uint64_t end_unix_ns = 0;
    Text participant_id;
    Text track_id;
    /// May be empty.
    Text country;
    Direction direction = Direction::Up;
    /// flag_final, flag_late, flag_merged bits.
    std::uint32_t flags = 0;
    // Sequence counts of this window from record_up_packet (up reports
    // only; zero otherwise), each non-negative; they add up across windows
    // and merged reports. See trackstats_report in trackstats.h and
    // docs/seq.md.

    /// Packets missing from gaps (never decremented).
    std::uint64_t packets_lost = 0;
    /// Late packets that filled a gap counted lost, maybe in an earlier
    /// window: net loss over a span is packets_lost - packets_recovered,
    /// which can be negative for one window.
    std::uint64_t packets_recovered = 0;
    /// Packets behind the highest sequence number seen.
    std::uint64_t packets_out_of_order = 0;
    /// Packets repeating the highest sequence number seen.
    std::uint64_t packets_duplicated = 0;
    /// End-of-frame packets, duplicates excluded.
    std::uint64_t frames = 0;

    bool is_final() const noexcept { return (flags & flag_final) != 0; }
    bool is_late() const noexcept { return (flags & flag_late) != 0; }
    bool is_merged() const noexcept { return (flags & flag_merged) != 0; }

    BasicReport() = default;

    /// The same report with its strings as `Text` (a copy for std::string).
    template <class Other>
    explicit BasicReport(const BasicReport<Other>& o);
};

struct Report;

/// A report that owns its strings: valid for as long as you keep it.
using OwnedReport = BasicReport<std::string>;

/// A report as drained or sunk. The string views borrow from the Batch it was
/// drained into (valid until that Batch is refilled, assigned or destroyed)
/// or, in a sink callback, from the call (valid until it returns). Copy what
/// you keep with to_owned().
struct Report : BasicReport<std::string_view> {
    /// The C record as the library gave it, for fields this wrapper does not
    /// name yet. Its pointers have the same lifetime as the views.
    trackstats_report raw{};

    /// Maps a C report field by field (by name, so new C fields never shift
    /// these).
    static Report from_c(const trackstats_report& r) noexcept;

    OwnedReport to_owned() const { return OwnedReport(*this); }
};

/// A read-only view of the reports of one sink call.
class ReportSpan {
  public:
    ReportSpan(const Report* data, std::size_t size) noexcept : data_(data), size_(size) {}
    const Report* begin() const noexcept { return data_; }
    const Report* end() const noexcept { return data_ + size_; }
    std::size_t size() const noexcept { return size_; }
    bool empty() const noexcept { return size_ == 0; }
    const Report& operator[](std::size_t i) const noexcept { return data_[i]; }

  private:
    const Report* data_;
    std::size_t size_;
};

// ---- what the handle types below are built from --------------------------------

namespace detail {

/// One owned C handle, move-only: `Free` releases it in the destructor and
/// when another is assigned over it; NULL after a move (and every C call
/// accepts NULL). Batch, Track and Registry each hold one.
template <class T, void (*Free)(T*)>
class Handle {
  public:
    Handle() noexcept = default;
    explicit Handle(T* adopted) noexcept : p_(adopted) {}
    ~Handle() { Free(p_); }

    Handle(Handle&& o) noexcept : p_(std::exchange(o.p_, nullptr)) {}
    Handle& operator=(Handle&& o) noexcept {
        if (this != &o) {
            Free(std::exchange(p_, std::exchange(o.p_, nullptr)));
        }
        return *this;
    }
    Handle(const Handle&) = delete;
    Handle& operator=(const Handle&) = delete;

    T* get() const noexcept { return p_; }
    /// The out-parameter of a C call that creates the handle (this is NULL).
    T** out() noexcept { return &p_; }
    /// Gives up ownership; this becomes NULL.
    T* release() noexcept { return std::exchange(p_, nullptr); }

  private:
    T* p_ = nullptr;
};

inline void check(trackstats_result r, const char* call);

class SinkBase;

// Which way a sink callable is called: per report if it can be, else per
// batch. conjunction/disjunction stop at the first answer, so a generic
// lambda is never instantiated with the type it was not meant for (which
// would be a hard error, not a substitution failure).
template <class F>
inline constexpr bool is_report_sink = std::is_invocable_v<F&, const Report&>;
template <class F>
inline constexpr bool is_sink =
    std::disjunction_v<std::is_invocable<F&, const Report&>, std::is_invocable<F&, ReportSpan>>;

}  // namespace detail

// ---- Batch -------------------------------------------------------------------

/// A consumer's report buffer (trackstats_batch). Not thread-safe: give each
/// consumer thread its own. Its reports (and their string views) are valid
/// until it is filled again, assigned to, or destroyed.
class Batch {
  public:
    /// Holds up to `capacity` (>= 1) reports per drain. Throws Error.
    explicit Batch(std::size_t capacity = 1024);

    /// The reports of the last drain or wait into this batch.
    const std::vector<Report>& reports() const noexcept { return reports_; }
    std::vector<Report>::const_iterator begin() const noexcept { return reports_.begin(); }
    std::vector<Report>::const_iterator end() const noexcept { return reports_.end(); }
    std::size_t size() const noexcept { return reports_.size(); }
    bool empty() const noexcept { return reports_.empty(); }

    trackstats_batch* get() const noexcept { return b_.get(); }

  private:
    friend class Registry;

    // Rebuilds the views after the library refilled the batch.
    void refresh();

    detail::Handle<trackstats_batch, trackstats_batch_free> b_;
    std::vector<Report> reports_;
};

// ---- Track -------------------------------------------------------------------

/// One track's stats handle (trackstats_track), move-only. The destructor
/// releases it (closing first if needed). Default-constructed and moved-from
/// Tracks are the NULL handle: every call is a no-op.
///
/// Thread safety: record_up, record_down, record_up_packet, close and totals
/// are const and may be called from any number of threads at once, also
/// racing each other (record_up_packet's sequence counts are exact only with
/// one writer at a time; see there). The Track object itself must outlive
/// those calls (destroying, moving or assigning it while another thread
/// records is a data race, as for any C++ object).
class Track {
  public:
    Track() noexcept = default;

    /// Adopts a handle from trackstats_track_open (or NULL).
    explicit Track(trackstats_track* adopted) noexcept;

    Track(Track&& o) noexcept;
    Track& operator=(Track&& o) noexcept;

    /// One message of `bytes` received from the publisher (UPSTREAM). Never
    /// blocks, allocates, throws or locks: one relaxed atomic add in the
    /// common case.
    void record_up(std::uint64_t bytes) const noexcept { record_dir<TRACKSTATS_DIRECTION_UP>(bytes); }

    /// One message of `bytes` sent to a subscriber (DOWNSTREAM).
    void record_down(std::uint64_t bytes) const noexcept { record_dir<TRACKSTATS_DIRECTION_DOWN>(bytes); }

    /// One data-track packet from the publisher: record_up(bytes) plus its
    /// 16-bit sequence number and end-of-frame mark, for the per-window
    /// packets_lost, packets_recovered, packets_out_of_order,
    /// packets_duplicated and frames counts (docs/seq.md). Never throws.
    /// The first packet of a track has the library allocate its sequence
    /// block, once; after that a packet never blocks, allocates or locks.
    /// Inline, like record_up: the rule stated at
    /// trackstats_track_packet_words (a few relaxed loads and stores, then
    /// one release add). Sizes above TRACKSTATS_MAX_INLINE_BYTES, and builds
    /// without an inline path, call trackstats_record_up_packet.
    ///
    /// Exact with one writer per track at a time. Several threads writing
    /// one track at once stay memory-safe and keep bytes and messages exact,
    /// but the sequence counts may then be under-counted, as documented for
    /// trackstats_record_up_packet.
    void record_up_packet(std::uint64_t bytes, std::uint16_t seq, bool end_of_frame) const noexcept;

    void record(Direction d, std::uint64_t bytes) const noexcept {
        if (d == Direction::Up) {
            record_up(bytes);
        } else if (d == Direction::Down) {
            record_down(bytes);
        }
    }

    /// Closes the track: its final reports (flag_final) follow within
    /// milliseconds (manual mode: at the next flush or tick). Idempotent; the
    /// handle stays usable and later records are reported flagged late. It
    /// is const because it changes the track's state in the library, not
    /// this handle.
    void close() const noexcept { (void)trackstats_track_close(t_.get()); }

    /// Cumulative totals (all reported windows plus the open one), sequence
    /// counts included (up_packets_*, up_frames). Zeros for the NULL handle.
    Totals totals() const noexcept {
        Totals out{};
        (void)trackstats_track_totals(t_.get(), &out);
        return out;
    }

    /// Releases the handle now (the destructor's job); this becomes NULL.
    void reset() noexcept { trackstats_track_release(detach()); }

    /// Gives up ownership: the caller must trackstats_track_release the
    /// result. This becomes NULL.
    [[nodiscard]] trackstats_track* detach() noexcept;

    trackstats_track* get() const noexcept { return t_.get(); }
    explicit operator bool() const noexcept { return t_.get() != nullptr; }

  private:
    template <std::uint32_t D>
    void record_dir(std::uint64_t bytes) const noexcept;

    std::uint64_t* packet_words() const noexcept;

    detail::Handle<trackstats_track, trackstats_track_release> t_;
    // The slot's window words [up, down], cached at open; NULL when this
    // build or the handle has no inline path.
    std::uint64_t* w_ = nullptr;
    // The track's packet words, cached at its first packet record (not at
    // open: a track that never records a packet must not get a block).
    // Atomic because const record_up_packet calls on several threads may
    // fill it at once.
    mutable std::atomic<std::uint64_t*> p_{nullptr};
};

// ---- Registry ----------------------------------------------------------------

/// Registry settings.
struct Config {
    /// Window length, TRACKSTATS_INTERVAL_MIN_MS ..= TRACKSTATS_INTERVAL_MAX_MS.
    /// Default TRACKSTATS_INTERVAL_DEFAULT_MS (5 s, LiveKit's ticker).
    std::chrono::milliseconds interval{TRACKSTATS_INTERVAL_DEFAULT_MS};
    /// Mode::Thread (a sampler thread) or Mode::Manual (call tick()).
    Mode mode = Mode::Thread;
    /// With a sink: called (on the sink's thread) with every exception the
    /// sink throws, after it was caught and counted. Its own exceptions are
    /// swallowed.
    std::function<void(std::exception_ptr)> on_sink_error;
};

/// What Registry::prometheus renders (trackstats_prometheus_options).
struct PrometheusOptions {
    /// Also render trackstats_track_bytes_total / _messages_total: one series
    /// per admitted (track, direction), labelled with participant_id and
    /// track_id. Off by default: per-track labels are unbounded cardinality.
    /// Asking turns on the registry's per-track figures
    /// (trackstats_registry_set_track_series): series appear from the next
    /// window pass on, each track admitted once, to a series of its own or to
    /// the overflow, until it is released.
    bool per_track = false;
    /// With per_track: at most this many per-track series; the rest are
    /// summed into one series per direction with track_id="__overflow__".
    /// (The C struct's zero default would put every track in the overflow
    /// series; this wrapper defaults to 1000.)
    std::uint32_t max_track_series = 1000;
    /// A constant node_id label on every series (UTF-8; empty for none).
    /// Only read during the call.
    std::string_view node_id;
};

/// A set of tracks with one sampler (trackstats_registry), move-only. The
/// destructor closes it (final reports for every open track, delivered to the
/// sink), then frees it. Tracks may outlive it: their handles stay valid and
/// their late reports become drainable (never sunk) once it is closed. A
/// moved-from Registry is NULL: its calls throw Error(NULL_ARGUMENT).
class Registry {
  public:
    /// Reports queue for drain()/wait(). Throws Error.
    explicit Registry(const Config& config = Config());

    /// Reports go to `sink`, called on the sampler thread (manual mode: the
    /// thread calling tick, flush or close). `sink` is any callable taking
    /// `const Report&` (called once per report; a generic lambda is called
    /// this way) or a `ReportSpan` (once per batch). The Registry owns it
    /// until the destructor, after which it is never called. Exceptions it
    /// throws are caught, counted (sink_exceptions()) and passed to
    /// config.on_sink_error; sampling goes on. Views in the reports are valid
    /// only during the call. Throws Error.
    template <class F, class = std::enable_if_t<detail::is_sink<std::decay_t<F>>>>
    Registry(const Config& config, F&& sink);

    ~Registry();
    Registry(Registry&& o) noexcept;
    Registry& operator=(Registry&& o) noexcept;

    /// Opens the stats handle of one (participant, track, country) key. Ids
    /// are UTF-8, copied; participant and track ids non-empty, each id at most
    /// TRACKSTATS_MAX_ID_BYTES. `user_data` comes back in every report.
    /// Throws Error (e.g. EMPTY_ID, REGISTRY_CLOSED).
    Track open(std::string_view participant_id, std::string_view track_id, std::string_view country = {},
               std::uint64_t user_data = 0) {
        Track t;
        detail::check(try_open(participant_id, track_id, country, user_data, t), "trackstats_track_open");
        return t;
    }

    /// As open(), without exceptions: on OK `out` holds the new track (its
    /// previous track released); otherwise `out` is unchanged.
    trackstats_result try_open(std::string_view participant_id, std::string_view track_id, std::string_view country,
                               std::uint64_t user_data, Track& out) noexcept;

    /// Final-flushes every open track, delivers, and stops the sampler; the
    /// sink is never called after it returns. Idempotent. Throws Error
    /// (REENTRANT_CALL from inside a manual registry's sink).
    void close() { detail::check(trackstats_registry_close(r_.get()), "trackstats_registry_close"); }

    /// Manual mode: ends the current window of every track now and delivers.
    /// Throws Error (WRONG_MODE with a sampler thread, REENTRANT_CALL from the
    /// sink, REGISTRY_CLOSED).
    void tick() { detail::check(trackstats_registry_tick(r_.get()), "trackstats_registry_tick"); }

    /// Processes pending closes and releases now (final and late reports) and
    /// delivers, without ending a window. Throws Error.
    void flush() { detail::check(trackstats_registry_flush(r_.get()), "trackstats_registry_flush"); }

    Stats stats() const {
        Stats s{};
        detail::check(trackstats_registry_stats(r_.get(), &s), "trackstats_registry_stats");
        return s;
    }

    /// Moves up to the batch's capacity of pending reports into `batch`
    /// (replacing what it held) without blocking; returns how many. Throws
    /// Error.
    std::size_t drain(Batch& batch);

    /// As drain(), waiting up to `timeout` for the first report. Returns false
    /// once the registry is closed and everything it flushed was drained (the
    /// batch is then empty), true otherwise (the batch may be empty on
    /// timeout). Throws Error.
    bool wait(Batch& batch, std::chrono::milliseconds timeout);

    /// The registry in the Prometheus text exposition format, ready to serve
    /// on /metrics: cumulative trackstats_bytes_total and
    /// trackstats_messages_total by direction ("incoming" = UPSTREAM,
    /// "outgoing" = DOWNSTREAM) and country, of live and released tracks,
    /// every window reported so far (the open one shows after the next pass;
    /// see trackstats_figures_view); optional per-track series (see
    /// PrometheusOptions); and the registry's health. Thread-safe; never
    /// waits for a window pass or the sink, and works from inside the sink.
    /// Throws Error (INVALID_UTF8 for a bad node_id), or std::bad_alloc; the
    /// library's string is freed on every path.
    std::string prometheus(const PrometheusOptions& options = {}) const;

    /// Exceptions the sink threw (and the wrapper caught) so far; 0 without a
    /// sink.
    std::uint64_t sink_exceptions() const noexcept;

    trackstats_registry* get() const noexcept { return r_.get(); }
    explicit operator bool() const noexcept { return r_.get() != nullptr; }

  private:
    void init(const Config& config, std::unique_ptr<detail::SinkBase> sink);

    // The sink is declared first so that it is destroyed last: freeing the
    // registry calls it one last time.
    std::unique_ptr<detail::SinkBase> sink_;
    detail::Handle<trackstats_registry, trackstats_registry_free> r_;
};

// ============================================================================
// How it works
// ============================================================================

namespace detail {

inline void check(trackstats_result r, const char* call) {
    if (r != TRACKSTATS_RESULT_OK) {
        throw Error(r, call);
    }
}

inline std::string_view view(const char* p, std::size_t len) noexcept {
    return len == 0 ? std::string_view() : std::string_view(p, len);
}

// ---- the window-word rule ------------------------------------------------------

// The rule (trackstats.h, trackstats_track_window_words), as 64-bit constants
// so the comparisons below are unsigned on every platform.
inline constexpr std::uint64_t message_one = TRACKSTATS_WORD_MESSAGE_ONE;
inline constexpr std::uint64_t bytes_mask = TRACKSTATS_WORD_BYTES_MASK;
inline constexpr std::uint64_t spill_mask = TRACKSTATS_WORD_SPILL_MASK;
inline constexpr std::uint64_t max_inline = TRACKSTATS_MAX_INLINE_BYTES;

// What the inline path relies on; a violation fails the build instead of
// corrupting counts.
static_assert(sizeof(std::uint64_t) == 8, "a window word is 64 bits");
static_assert((message_one & bytes_mask) == 0 && message_one == bytes_mask + 1,
              "the message field starts right above the byte field");
static_assert(max_inline <= bytes_mask, "an inline record fits the byte field");
static_assert((message_one | max_inline) < spill_mask, "one record alone never looks like a spill");
static_assert(TRACKSTATS_DIRECTION_UP == 0 && TRACKSTATS_DIRECTION_DOWN == 1,
              "directions index the two window words");

// The rule's test on the value before the add: 0 is the window's first
// record, which marks the track for the sampler's next pass (once per track,
// direction and window); a set spill bit is a field at least half full.
constexpr bool needs_slow_path(std::uint64_t old) noexcept { return old == 0 || (old & spill_mask) != 0; }

// The words are Rust AtomicU64s: 8 bytes, 8-byte aligned. The C++ side must
// use the same lock-free hardware RMW on them, never a lock-based emulation.
inline constexpr std::size_t word_align = 8;

/// Whether `p` is a word this build may access atomically.
inline bool aligned_word(const std::uint64_t* p) noexcept {
    return p != nullptr && reinterpret_cast<std::uintptr_t>(p) % word_align == 0;
}

#if TRACKSTATS_CPP_RECORD_PATH == 2
static_assert(std::atomic_ref<std::uint64_t>::is_always_lock_free,
              "the inline path needs a lock-free 64-bit atomic_ref");
static_assert(std::atomic_ref<std::uint64_t>::required_alignment <= word_align,
              "atomic_ref must accept the words' 8-byte alignment");

/// Atomic access to one 64-bit word of the library's memory: std::atomic_ref.
class AtomicWord {
  public:
    explicit AtomicWord(std::uint64_t& w) noexcept : w_(w) {}
    std::uint64_t load(std::memory_order o) const noexcept { return w_.load(o); }
    void store(std::uint64_t v, std::memory_order o) const noexcept { w_.store(v, o); }
    std::uint64_t fetch_add(std::uint64_t v, std::memory_order o) const noexcept { return w_.fetch_add(v, o); }

  private:
    std::atomic_ref<std::uint64_t> w_;
};
#elif TRACKSTATS_CPP_RECORD_PATH == 1
static_assert(__atomic_always_lock_free(sizeof(std::uint64_t), 0), "the inline path needs lock-free 64-bit atomics");

/// Atomic access to one 64-bit word of the library's memory: the GCC/Clang
/// __atomic builtins, with the std::memory_order given as theirs.
class AtomicWord {
  public:
    explicit AtomicWord(std::uint64_t& w) noexcept : w_(&w) {}
    std::uint64_t load(std::memory_order o) const noexcept { return __atomic_load_n(w_, builtin(o)); }
    void store(std::uint64_t v, std::memory_order o) const noexcept { __atomic_store_n(w_, v, builtin(o)); }
    std::uint64_t fetch_add(std::uint64_t v, std::memory_order o) const noexcept {
        return __atomic_fetch_add(w_, v, builtin(o));
    }

  private:
    static constexpr int builtin(std::memory_order o) noexcept {
        return o == std::memory_order_relaxed   ? __ATOMIC_RELAXED
               : o == std::memory_order_acquire ? __ATOMIC_ACQUIRE
               : o == std::memory_order_release ? __ATOMIC_RELEASE
               : o == std::memory_order_acq_rel ? __ATOMIC_ACQ_REL
                                                : __ATOMIC_SEQ_CST;
    }

    std::uint64_t* w_;
};
#endif

/// The window words of `t` when this build can add to them inline, else
/// NULL (every record then calls into the library).
inline std::uint64_t* inline_words(trackstats_track* t) noexcept {
#if TRACKSTATS_CPP_RECORD_PATH == 0
    (void)t;
    return nullptr;
#else
    if (t == nullptr) {
        return nullptr;
    }
    std::uint64_t* w = trackstats_track_window_words(t);
    // Checked once at open: an unexpected layout falls back to the C calls.
    return aligned_word(w) ? w : nullptr;
#endif
}

/// Records that do not take the inline path: too large for the word, or no
/// inline path in this build. NULL is a no-op inside the library.
template <std::uint32_t D>
inline void record_call(trackstats_track* t, std::uint64_t bytes) noexcept {
    if (D == TRACKSTATS_DIRECTION_UP) {
        trackstats_record_up(t, bytes);
    } else {
        trackstats_record_down(t, bytes);
    }
}

// ---- the packet rule -----------------------------------------------------------

#if TRACKSTATS_CPP_RECORD_PATH != 0
/// The header's bump(w, k): a load and a store, not a read-modify-write
/// (one writer per track), saturating rather than wrapping.
inline void bump(std::uint64_t& word, std::uint64_t k) noexcept {
    const AtomicWord w(word);
    const std::uint64_t v = w.load(std::memory_order_relaxed);
    w.store(v > std::numeric_limits<std::uint64_t>::max() - k ? std::numeric_limits<std::uint64_t>::max() : v + k,
            std::memory_order_relaxed);
}

inline constexpr std::uint64_t packet_started = TRACKSTATS_PACKET_STARTED;
static_assert(TRACKSTATS_PACKET_WORDS == 6 && TRACKSTATS_PACKET_WORD_STATE == 0 && TRACKSTATS_PACKET_WORD_FRAMES == 5,
              "the packet words this rule was written for");
static_assert(packet_started == (std::uint64_t{1} << 16), "the started bit sits right above the 16-bit sequence number");

/// Applies one packet's sequence number to the packet words `p`: the rule
/// stated at trackstats_track_packet_words, step by step. Relaxed
/// throughout: the caller's release add publishes it all.
inline void apply_packet(std::uint64_t* p, std::uint16_t seq, bool end_of_frame) noexcept {
    const AtomicWord state(p[TRACKSTATS_PACKET_WORD_STATE]);
    const std::uint64_t st = state.load(std::memory_order_relaxed);
    if ((st & packet_started) == 0) {
        state.store(packet_started | seq, std::memory_order_relaxed);
    } else {
        // Distance ahead of the highest number seen, mod 2^16.
        const auto d = static_cast<std::uint16_t>(seq - static_cast<std::uint16_t>(st));
        if (d == 0) {
            bump(p[TRACKSTATS_PACKET_WORD_DUPLICATED], 1);
            return;  // a duplicate is never a frame
        }
        if (d > 32768u) {
            bump(p[TRACKSTATS_PACKET_WORD_OUT_OF_ORDER], 1);
            // Recover one only while the cumulative loss (lost - recovered)
            // is positive.
            if (AtomicWord(p[TRACKSTATS_PACKET_WORD_LOST]).load(std::memory_order_relaxed) >
                AtomicWord(p[TRACKSTATS_PACKET_WORD_RECOVERED]).load(std::memory_order_relaxed)) {
                bump(p[TRACKSTATS_PACKET_WORD_RECOVERED], 1);
            }
        } else {
            if (d > 1) {
                bump(p[TRACKSTATS_PACKET_WORD_LOST], d - 1u);
            }
            state.store(packet_started | seq, std::memory_order_relaxed);
        }
    }
    if (end_of_frame) {
        bump(p[TRACKSTATS_PACKET_WORD_FRAMES], 1);
    }
}
#endif

// ---- sinks ---------------------------------------------------------------------

/// What a Registry keeps alive for a callback sink: the callable, the error
/// accounting, and a buffer of Reports reused by every call. The library
/// calls the sink from one sampler role at a time, so the buffer needs no
/// lock.
class SinkBase {
  public:
    virtual ~SinkBase() = default;

    /// The trackstats_sink_fn. noexcept: nothing may unwind into the library
    /// (Rust) frames above it; every exception stops here.
    static void trampoline(void* ctx, const trackstats_report* reports, std::size_t len) noexcept {
        auto* self = static_cast<SinkBase*>(ctx);
        try {
            self->buf_.clear();
            for (std::size_t i = 0; i < len; i++) {
                self->buf_.push_back(Report::from_c(reports[i]));
            }
            self->deliver(ReportSpan(self->buf_.data(), self->buf_.size()));
        } catch (...) {
            self->failed();
        }
    }

    std::uint64_t exceptions() const noexcept {
        // Relaxed: a counter read for reporting, not used to order other data.
        return exceptions_.load(std::memory_order_relaxed);
    }

    std::function<void(std::exception_ptr)> on_error;

  protected:
    virtual void deliver(ReportSpan reports) = 0;

    /// Called inside a catch block: counts the exception and hands it to the
    /// error hook, whose own exceptions are swallowed (they must not escape).
    void failed() noexcept {
        // Relaxed: see exceptions().
        exceptions_.fetch_add(1, std::memory_order_relaxed);
        if (on_error) {
            try {
                on_error(std::current_exception());
            } catch (...) {
            }
        }
    }

  private:
    std::vector<Report> buf_;
    std::atomic<std::uint64_t> exceptions_{0};
};

/// Owns the callable. A per-report callable is called once per report, each
/// call guarded, so one throwing report does not cost the others.
template <class F>
class Sink final : public SinkBase {
  public:
    explicit Sink(F f) : f_(std::move(f)) {}

  protected:
    void deliver(ReportSpan reports) override {
        if constexpr (is_report_sink<F>) {
            for (const Report& r : reports) {
                try {
                    f_(r);
                } catch (...) {
                    failed();
                }
            }
        } else {
            f_(reports);
        }
    }

  private:
    F f_;
};

/// Owns a string the library allocated (trackstats_string_free).
struct CStringFree {
    void operator()(char* s) const noexcept { trackstats_string_free(s); }
};
using CString = std::unique_ptr<char, CStringFree>;

}  // namespace detail

// ---- reports -------------------------------------------------------------------

template <class Text>
template <class Other>
BasicReport<Text>::BasicReport(const BasicReport<Other>& o)
    : user_data(o.user_data),
      bytes(o.bytes),
      messages(o.messages),
      start_unix_ns(o.start_unix_ns),
      end_unix_ns(o.end_unix_ns),
      participant_id(o.participant_id),
      track_id(o.track_id),
      country(o.country),
      direction(o.direction),
      flags(o.flags),
      packets_lost(o.packets_lost),
      packets_recovered(o.packets_recovered),
      packets_out_of_order(o.packets_out_of_order),
      packets_duplicated(o.packets_duplicated),
      frames(o.frames) {}

inline Report Report::from_c(const trackstats_report& r) noexcept {
    Report x;
    x.user_data = r.user_data;
    x.bytes = r.bytes;
    x.messages = r.messages;
    x.start_unix_ns = r.start_unix_ns;
    x.end_unix_ns = r.end_unix_ns;
    x.participant_id = detail::view(r.participant_id, r.participant_id_len);
    x.track_id = detail::view(r.track_id, r.track_id_len);
    x.country = detail::view(r.country, r.country_len);
    x.direction = static_cast<Direction>(r.direction);
    x.flags = r.flags;
    x.packets_lost = r.packets_lost;
    x.packets_recovered = r.packets_recovered;
    x.packets_out_of_order = r.packets_out_of_order;
    x.packets_duplicated = r.packets_duplicated;
    x.frames = r.frames;
    x.raw = r;
    return x;
}

// ---- Batch ---------------------------------------------------------------------

inline Batch::Batch(std::size_t capacity) {
    detail::check(trackstats_batch_new(capacity, b_.out()), "trackstats_batch_new");
    reports_.reserve(capacity < 4096 ? capacity : 4096);
}

inline void Batch::refresh() {
    reports_.clear();
    std::size_t len = 0;
    const trackstats_report* rs = trackstats_batch_reports(b_.get(), &len);
    for (std::size_t i = 0; i < len; i++) {
        reports_.push_back(Report::from_c(rs[i]));
    }
}

// ---- Track ---------------------------------------------------------------------

inline Track::Track(trackstats_track* adopted) noexcept : t_(adopted), w_(detail::inline_words(adopted)) {}

// Acquire on the moved packet-word pointer: pairs with the Release store in
// packet_words(), as every load of p_ does.
inline Track::Track(Track&& o) noexcept
    : t_(std::move(o.t_)),
      w_(std::exchange(o.w_, nullptr)),
      p_(o.p_.exchange(nullptr, std::memory_order_acquire)) {}

inline Track& Track::operator=(Track&& o) noexcept {
    if (this != &o) {
        t_ = std::move(o.t_);  // releases this track's handle
        w_ = std::exchange(o.w_, nullptr);
        // Acquire: as in the move constructor. Release: pairs with the
        // Acquire loads in record_up_packet (see packet_words()).
        p_.store(o.p_.exchange(nullptr, std::memory_order_acquire), std::memory_order_release);
    }
    return *this;
}

inline trackstats_track* Track::detach() noexcept {
    w_ = nullptr;
    // Relaxed: the pointer is dropped, never dereferenced again.
    p_.store(nullptr, std::memory_order_relaxed);
    return t_.release();
}

template <std::uint32_t D>
inline void Track::record_dir(std::uint64_t bytes) const noexcept {
#if TRACKSTATS_CPP_RECORD_PATH != 0
    if (TRACKSTATS_CPP_LIKELY(w_ != nullptr && bytes <= detail::max_inline)) {
        // Relaxed, as in the Rust core's Slot::record: the count is the only
        // data a record publishes, and the sampler takes the word with an RMW
        // (its swap(0)), which always reads the latest value in the word's
        // modification order.
        const std::uint64_t old =
            detail::AtomicWord(w_[D]).fetch_add(detail::message_one | bytes, std::memory_order_relaxed);
        // The window's first record (mark the track for the sampler) or a
        // field at least half full (move the word to the wide accumulator).
        if (TRACKSTATS_CPP_UNLIKELY(detail::needs_slow_path(old))) {
            trackstats_track_slow_path(t_.get(), D, old);
        }
        return;
    }
#endif
    // The relay case costs a test, not a call.
    if (t_.get() != nullptr) {
        detail::record_call<D>(t_.get(), bytes);
    }
}

inline void Track::record_up_packet(std::uint64_t bytes, std::uint16_t seq, bool end_of_frame) const noexcept {
#if TRACKSTATS_CPP_RECORD_PATH != 0
    if (TRACKSTATS_CPP_LIKELY(w_ != nullptr && bytes <= detail::max_inline)) {
        // Acquire: pairs with the Release store in packet_words(), so the
        // block's initial state is visible before it is used.
        std::uint64_t* p = p_.load(std::memory_order_acquire);
        if (TRACKSTATS_CPP_UNLIKELY(p == nullptr)) {
            p = packet_words();
        }
        if (TRACKSTATS_CPP_LIKELY(p != nullptr)) {
            detail::apply_packet(p, seq, end_of_frame);
            // Release: publishes the packet words stored just before it;
            // pairs with the Acquire fence the sampler takes after its
            // swap(0) of the word (Slot::take_seq in the core), so a sampler
            // that took this message also sees this packet's counts.
            const std::uint64_t old = detail::AtomicWord(w_[TRACKSTATS_DIRECTION_UP])
                                          .fetch_add(detail::message_one | bytes, std::memory_order_release);
            if (TRACKSTATS_CPP_UNLIKELY(detail::needs_slow_path(old))) {
                trackstats_track_slow_path(t_.get(), TRACKSTATS_DIRECTION_UP, old);
            }
            return;
        }
        // No block (allocation failed): the library counts the packet as a
        // plain record.
    }
#endif
    if (t_.get() != nullptr) {
        trackstats_record_up_packet(t_.get(), bytes, seq, end_of_frame);
    }
}

/// The first packet record's slow step: asks the library for the packet
/// words (it allocates the block once; every caller gets the same address)
/// and caches them. NULL if the block cannot be allocated or the words are
/// not 8-byte aligned.
inline std::uint64_t* Track::packet_words() const noexcept {
    static_assert(std::atomic<std::uint64_t*>::is_always_lock_free, "the packet-word cache must not take a lock");
    std::uint64_t* p = trackstats_track_packet_words(t_.get());
    if (!detail::aligned_word(p)) {
        return nullptr;
    }
    // Release: pairs with the Acquire loads of p_ on other threads. Two
    // threads racing here store the same address.
    p_.store(p, std::memory_order_release);
    return p;
}

// ---- Registry ------------------------------------------------------------------

inline Registry::Registry(const Config& config) { init(config, nullptr); }

template <class F, class>
Registry::Registry(const Config& config, F&& sink) {
    auto s = std::make_unique<detail::Sink<std::decay_t<F>>>(std::forward<F>(sink));
    s->on_error = config.on_sink_error;
    init(config, std::move(s));
}

// r_ is destroyed before sink_ (members go in reverse order): freeing the
// registry closes it and calls the sink one last time.
inline Registry::~Registry() = default;

inline Registry::Registry(Registry&& o) noexcept = default;

inline Registry& Registry::operator=(Registry&& o) noexcept {
    if (this != &o) {
        // The old registry first (it calls the old sink one last time), then
        // the old sink.
        r_ = std::move(o.r_);
        sink_ = std::move(o.sink_);
    }
    return *this;
}

inline trackstats_result Registry::try_open(std::string_view participant_id, std::string_view track_id,
                                            std::string_view country, std::uint64_t user_data, Track& out) noexcept {
    trackstats_track* t = nullptr;
    trackstats_result r = trackstats_track_open(r_.get(), participant_id.data(), participant_id.size(),
                                                track_id.data(), track_id.size(), country.data(), country.size(),
                                                user_data, &t);
    if (r == TRACKSTATS_RESULT_OK) {
        out = Track(t);
    }
    return r;
}

inline std::size_t Registry::drain(Batch& batch) {
    trackstats_result r = trackstats_registry_drain(r_.get(), batch.b_.get());
    batch.refresh();
    detail::check(r, "trackstats_registry_drain");
    return batch.size();
}

inline bool Registry::wait(Batch& batch, std::chrono::milliseconds timeout) {
    const auto max_ms = static_cast<std::chrono::milliseconds::rep>(std::numeric_limits<std::uint32_t>::max());
    const auto ms = timeout.count() < 0 ? 0 : (timeout.count() > max_ms ? max_ms : timeout.count());
    trackstats_result r = trackstats_registry_wait(r_.get(), batch.b_.get(), static_cast<std::uint32_t>(ms));
    batch.refresh();
    if (r == TRACKSTATS_RESULT_REGISTRY_CLOSED) {
        return false;
    }
    detail::check(r, "trackstats_registry_wait");
    return true;
}

inline std::string Registry::prometheus(const PrometheusOptions& options) const {
    trackstats_prometheus_options c{};
    c.per_track = options.per_track;
    c.max_track_series = options.max_track_series;
    c.node_id = options.node_id.data();
    c.node_id_len = options.node_id.size();
    char* raw = nullptr;
    std::size_t len = 0;
    const trackstats_result r = trackstats_registry_prometheus(r_.get(), &c, &raw, &len);
    // Owned before anything below can throw; NULL (nothing written on
    // failure) is fine to free.
    const detail::CString owned(raw);
    detail::check(r, "trackstats_registry_prometheus");
    return std::string(owned.get(), len);
}

inline std::uint64_t Registry::sink_exceptions() const noexcept { return sink_ ? sink_->exceptions() : 0; }

inline void Registry::init(const Config& config, std::unique_ptr<detail::SinkBase> sink) {
    if (config.interval.count() <= 0) {
        throw Error(TRACKSTATS_RESULT_INVALID_INTERVAL, "trackstats_registry_new");
    }
    trackstats_config c = trackstats_config_default();
    c.interval_ms = static_cast<std::uint64_t>(config.interval.count());
    c.mode = static_cast<std::uint32_t>(config.mode);
    if (sink) {
        c.sink = &detail::SinkBase::trampoline;
        // The heap object outlives every sink call: it is freed only after
        // the registry (see the members' order).
        c.sink_ctx = sink.get();
    }
    detail::check(trackstats_registry_new(&c, r_.out()), "trackstats_registry_new");
    sink_ = std::move(sink);
}

}  // namespace trackstats

#endif  // TRACKSTATS_HPP
