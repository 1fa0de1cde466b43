// Hardware cache-miss counters of the calling thread, read around a timed
// loop (Linux perf_event_open, user-space events only). Where the kernel or
// the hypervisor gives no hardware counters (many VMs: `perf stat -e
// instructions true` prints <not supported>), open() fails and says why.
// The Rust (benches/common/perf.rs) and Go
// (cbindings/go/trackstats/perf_linux_test.go) benches count the same two
// events the same way.
#pragma once

#include <array>
#include <cerrno>
#include <cstdint>
#include <cstring>
#include <string>

#ifdef __linux__
#include <linux/perf_event.h>
#include <sys/ioctl.h>
#include <sys/syscall.h>
#include <unistd.h>
#endif

namespace perf {

/// The events, in the order Counters::stop returns them: L1 data cache
/// read misses (perf's L1-dcache-load-misses) and the CPU's generic cache
/// misses (perf's cache-misses).
inline constexpr std::array<const char*, 2> event_names{"L1D-misses", "cache-misses"};

class Counters {
  public:
    Counters() = default;
    Counters(const Counters&) = delete;
    Counters& operator=(const Counters&) = delete;
    ~Counters() { close_all(); }

    /// Opens the counters on the calling thread; on failure, why() says why.
    bool open() {
#ifdef __linux__
        const std::array<std::pair<std::uint32_t, std::uint64_t>, 2> events{{
            {PERF_TYPE_HW_CACHE, PERF_COUNT_HW_CACHE_L1D | (PERF_COUNT_HW_CACHE_OP_READ << 8) |
                                     (PERF_COUNT_HW_CACHE_RESULT_MISS << 16)},
            {PERF_TYPE_HARDWARE, PERF_COUNT_HW_CACHE_MISSES},
        }};
        for (std::size_t i = 0; i < events.size(); i++) {
            perf_event_attr attr;
            std::memset(&attr, 0, sizeof attr);
            attr.type = events[i].first;
            attr.size = sizeof attr;
            attr.config = events[i].second;
            attr.disabled = 1;
            attr.exclude_kernel = 1;
            attr.exclude_hv = 1;
            const long fd = syscall(SYS_perf_event_open, &attr, 0, -1, -1, 0);
            if (fd < 0) {
                why_ = std::string("perf_event_open: ") + std::strerror(errno);
                close_all();
                return false;
            }
            fds_[i] = static_cast<int>(fd);
        }
        return true;
#else
        why_ = "hardware counters are read on Linux only";
        return false;
#endif
    }

    const std::string& why() const noexcept { return why_; }

    void start() noexcept {
#ifdef __linux__
        for (int fd : fds_) {
            ioctl(fd, PERF_EVENT_IOC_RESET, 0);
            ioctl(fd, PERF_EVENT_IOC_ENABLE, 0);
        }
#endif
    }

    /// Stops the counters; their counts since start().
    std::array<std::uint64_t, 2> stop() noexcept {
        std::array<std::uint64_t, 2> out{};
#ifdef __linux__
        for (int fd : fds_) {
            ioctl(fd, PERF_EVENT_IOC_DISABLE, 0);
        }
        for (std::size_t i = 0; i < fds_.size(); i++) {
            std::uint64_t v = 0;
            if (read(fds_[i], &v, sizeof v) == static_cast<ssize_t>(sizeof v)) {
                out[i] = v;
            }
        }
#endif
        return out;
    }

  private:
    void close_all() noexcept {
#ifdef __linux__
        for (int& fd : fds_) {
            if (fd >= 0) {
                ::close(fd);
                fd = -1;
            }
        }
#endif
    }

    std::array<int, 2> fds_{-1, -1};
    std::string why_;
};

}  // namespace perf
