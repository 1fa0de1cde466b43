// The callback sink: any callable, owned by the Registry; exceptions it
// throws are caught in the trampoline (never reach the Rust sampler, whose
// sink_panics counter stays 0), counted, handed to the error hook, and
// sampling and delivery go on.
#include <gtest/gtest.h>

#include <atomic>
#include <chrono>
#include <functional>
#include <memory>
#include <mutex>
#include <optional>
#include <stdexcept>
#include <string>
#include <thread>
#include <vector>

#include "test_util.hpp"
#include "trackstats.hpp"

TEST(Sink, PerReportCallableThatThrowsLosesOnlyThatReport) {
    std::vector<trackstats::OwnedReport> seen;
    std::vector<std::string> errors;
    trackstats::Config cfg = tstest::manual_config();
    cfg.on_sink_error = [&](std::exception_ptr e) {
        try {
            std::rethrow_exception(e);
        } catch (const std::exception& x) {
            errors.push_back(x.what());
        }
    };
    int calls = 0;
    trackstats::Registry reg(cfg, [&](const trackstats::Report& r) {
        calls++;
        if (calls == 1) {
            throw std::runtime_error("boom on " + std::string(r.track_id));
        }
        seen.push_back(r.to_owned());
    });
    trackstats::Track a = reg.open("PA", "TR_a", "", 1);
    trackstats::Track b = reg.open("PA", "TR_b", "", 2);
    a.record_up(10);
    b.record_up(20);
    reg.tick();
    EXPECT_EQ(calls, 2);
    EXPECT_EQ(reg.sink_exceptions(), 1u);
    ASSERT_EQ(errors.size(), 1u);
    EXPECT_EQ(errors[0].rfind("boom on TR_", 0), 0u);
    ASSERT_EQ(seen.size(), 1u) << "the report after the throwing one was not delivered";

    // Sampling goes on: the next window is delivered in full.
    a.record_up(30);
    b.record_up(40);
    reg.tick();
    ASSERT_EQ(seen.size(), 3u);
    EXPECT_EQ(seen[1].bytes + seen[2].bytes, 70u);
    EXPECT_EQ(reg.sink_exceptions(), 1u);
    EXPECT_EQ(reg.stats().sink_panics, 0u) << "an exception reached the library";
}

TEST(Sink, SpanCallableThrowingOnTheSamplerThreadIsContained) {
    std::mutex mu;
    std::uint64_t delivered_bytes = 0;
    std::atomic<int> batches{0};
    trackstats::Config cfg;
    cfg.interval = std::chrono::milliseconds(2);
    trackstats::Registry reg(cfg, [&](trackstats::ReportSpan rs) {
        // Relaxed: a counter; the mutex orders the data.
        if (batches.fetch_add(1, std::memory_order_relaxed) == 0) {
            throw 42;  // not even a std::exception
        }
        std::lock_guard<std::mutex> g(mu);
        for (const auto& r : rs) {
            delivered_bytes += r.bytes;
        }
    });
    trackstats::Track t = reg.open("PA", "TR");
    t.record_up(5);
    // Wait until the first (throwing) batch was caught and counted, then
    // record what must still arrive.
    const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(10);
    while (reg.sink_exceptions() == 0 && std::chrono::steady_clock::now() < deadline) {
        std::this_thread::sleep_for(std::chrono::milliseconds(1));
    }
    ASSERT_EQ(reg.sink_exceptions(), 1u);
    EXPECT_EQ(batches.load(std::memory_order_relaxed), 1);
    t.record_up(1000);
    t.record_down(2000);
    reg.close();  // the final flush is delivered before close returns
    std::lock_guard<std::mutex> g(mu);
    EXPECT_EQ(delivered_bytes, 3000u);
    EXPECT_EQ(reg.stats().sink_panics, 0u);
}

TEST(Sink, ReentrantTickAndAThrowingErrorHookAreContained) {
    trackstats::Config cfg = tstest::manual_config();
    trackstats::Registry* self = nullptr;
    std::vector<trackstats_result> codes;
    cfg.on_sink_error = [&](std::exception_ptr e) {
        try {
            std::rethrow_exception(e);
        } catch (const trackstats::Error& x) {
            codes.push_back(x.code());
        }
        throw std::logic_error("the hook itself throws");
    };
    std::function<void(const trackstats::Report&)> sink = [&](const trackstats::Report&) {
        self->tick();  // refused inside the sink: REENTRANT_CALL, thrown as Error
    };
    trackstats::Registry reg(cfg, sink);
    self = &reg;
    trackstats::Track t = reg.open("PA", "TR");
    t.record_up(1);
    reg.tick();
    EXPECT_EQ(reg.sink_exceptions(), 1u);
    ASSERT_EQ(codes.size(), 1u);
    EXPECT_EQ(codes[0], TRACKSTATS_RESULT_REENTRANT_CALL);
    EXPECT_EQ(reg.stats().sink_panics, 0u);
}

TEST(Sink, RegistryOwnsTheCallableAndFlushesAtDestruction) {
    auto received = std::make_shared<std::vector<trackstats::OwnedReport>>();
    auto token = std::make_shared<int>(0);  // held only by the callable
    std::weak_ptr<int> watch = token;
    std::optional<trackstats::Registry> reg;
    reg.emplace(tstest::manual_config(), [received, token = std::move(token)](const trackstats::Report& r) {
        received->push_back(r.to_owned());
    });
    ASSERT_FALSE(watch.expired()) << "the Registry did not keep its callable";
    trackstats::Track t = reg->open("PA_x", "TR_x", "NO", 3);
    t.record_down(64);
    // The destructor closes the registry: the final report reaches the sink,
    // then the callable is destroyed.
    reg.reset();
    EXPECT_TRUE(watch.expired()) << "the Registry leaked its callable";
    ASSERT_EQ(received->size(), 1u);
    EXPECT_TRUE((*received)[0].is_final());
    EXPECT_EQ((*received)[0].bytes, 64u);
    EXPECT_EQ((*received)[0].country, "NO");
    t.record_up(1);  // the track outlives its registry
    t.reset();
}

TEST(Sink, GenericLambdaIsCalledPerReport) {
    std::uint64_t bytes = 0, calls = 0;
    trackstats::Registry reg(tstest::manual_config(), [&](const auto& r) {
        bytes += r.bytes;
        calls++;
    });
    trackstats::Track a = reg.open("PA", "TR_a");
    trackstats::Track b = reg.open("PA", "TR_b");
    a.record_up(3);
    b.record_down(4);
    reg.tick();
    EXPECT_EQ(calls, 2u);
    EXPECT_EQ(bytes, 7u);
}
