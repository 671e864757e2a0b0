#include <corio/runtime/resilience.hpp>

#include <pthread.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <cmath>
#include <exception>

#include <corio/runtime/log.hpp>
#include <corio/runtime/sim_io.hpp>

namespace corio {

namespace detail {

namespace {

// Bumped in the child of every fork (pthread_atfork), so that random_seed() sees a fork
// without a system call per draw.
std::atomic<unsigned> fork_generation{1};

}  // namespace

std::uint64_t random_seed() noexcept {
    // On a simulated host the seed decides, so that a run replays.
    if (SimIo* sim = current_sim()) return sim->random();
    // One random_device read per thread, then a cheap generator: a crawler may start
    // thousands of retry loops. Seeded again after a fork: a child inherits the parent's
    // generator state and would draw the parent's numbers (the same temporary names for
    // write_file_atomic in every child; the same jitter).
    static const bool watching_forks = [] {
        ::pthread_atfork(nullptr, nullptr,
                         [] { fork_generation.fetch_add(1, std::memory_order_relaxed); });
        return true;
    }();
    (void)watching_forks;
    thread_local std::mt19937_64 gen;
    thread_local unsigned seeded_in = 0;
    if (const unsigned now = fork_generation.load(std::memory_order_relaxed); now != seeded_in) {
        std::uint64_t s = 0x9e3779b97f4a7c15ULL ^ (std::uint64_t(::getpid()) << 32);
        try {
            std::random_device rd;
            s ^= (std::uint64_t(rd()) << 32) ^ rd();
        } catch (...) {
            // No entropy source: mix in the clock, draws still differ per run.
            s ^= static_cast<std::uint64_t>(Clock::now().time_since_epoch().count());
        }
        gen.seed(s);
        seeded_in = now;
    }
    return gen();
}

}  // namespace detail

bool is_transient_error(std::error_code ec) noexcept {
    if (!ec) return false;
    if (ec == Errc::eof) return true;
    static constexpr std::errc transient[] = {
        std::errc::connection_refused,
        std::errc::connection_reset,
        std::errc::connection_aborted,
        std::errc::timed_out,
        std::errc::host_unreachable,
        std::errc::network_unreachable,
        std::errc::network_down,
        std::errc::network_reset,
        std::errc::broken_pipe,
        std::errc::not_connected,
        std::errc::resource_unavailable_try_again,
        std::errc::interrupted,
        std::errc::no_buffer_space,
        std::errc::address_not_available,
    };
    for (std::errc e : transient) {
        if (ec == e) return true;
    }
    return false;
}

bool counts_as_failure(std::error_code ec) noexcept {
    if (!ec) return false;
    return ec != std::errc::operation_canceled && ec != Errc::rejected && ec != Errc::circuit_open;
}

const char* to_string(RetryStop s) noexcept {
    switch (s) {
        case RetryStop::succeeded:
            return "succeeded";
        case RetryStop::not_retryable:
            return "not_retryable";
        case RetryStop::attempts_exhausted:
            return "attempts_exhausted";
        case RetryStop::deadline:
            return "deadline";
        case RetryStop::cancelled:
            return "cancelled";
    }
    return "unknown";
}

const char* to_string(BreakerState s) noexcept {
    switch (s) {
        case BreakerState::closed:
            return "closed";
        case BreakerState::open:
            return "open";
        case BreakerState::half_open:
            return "half_open";
    }
    return "unknown";
}

// ---- Backoff ------------------------------------------------------------

Duration Backoff::ceiling(int n) const noexcept {
    if (n < 1) n = 1;
    const Duration cap = std::max(max_, Duration::zero());
    const double base = static_cast<double>(std::max(initial_, Duration::zero()).count());
    // In double: initial * multiplier^(n-1) overflows an integer long before
    // attempts run out; the cap brings it back into range.
    const double c = base * std::pow(std::max(multiplier_, 0.0), n - 1);
    if (!(c < static_cast<double>(cap.count()))) return cap;  // also catches inf and NaN
    return Duration(static_cast<Duration::rep>(c));
}

Duration Backoff::next() noexcept {
    const Duration c = ceiling(++n_);
    const auto range = static_cast<std::uint64_t>(c.count());
    // Modulo of a 64-bit draw: the bias is below 2^-24 for any delay under
    // 10^12 ns, and unlike std::uniform_int_distribution the sequence is the
    // same with every standard library.
    auto draw = [&](std::uint64_t r) { return r == 0 ? 0 : rng_() % (r + 1); };
    switch (jitter_) {
        case Jitter::none:
            return c;
        case Jitter::full:
            return Duration(static_cast<Duration::rep>(draw(range)));
        case Jitter::equal: {
            const std::uint64_t half = range / 2;
            return Duration(static_cast<Duration::rep>(range - half + draw(half)));
        }
    }
    return c;
}

// ---- CircuitBreaker -----------------------------------------------------

CircuitBreaker::CircuitBreaker(BreakerOptions opts) : opts_(std::move(opts)) {
    if (opts_.half_open_trials < 1) opts_.half_open_trials = 1;
    if (opts_.successes_to_close < 1) opts_.successes_to_close = 1;
    if (opts_.window > 0) ring_.assign(static_cast<std::size_t>(opts_.window), 0);
}

CircuitBreaker::Outcome CircuitBreaker::classify(std::error_code ec) const noexcept {
    if (!ec) return Outcome::success;
    if (ec == std::errc::operation_canceled) return Outcome::ignored;
    if (opts_.is_failure != nullptr && opts_.is_failure(ec)) return Outcome::failure;
    return Outcome::success;  // the dependency answered; the error is ours to handle
}

BreakerState CircuitBreaker::state() {
    if (state_ == BreakerState::open && Loop::current().now() >= open_until()) {
        move_to(BreakerState::half_open);
    }
    return state_;
}

bool CircuitBreaker::allow() {
    return admit().has_value();
}

std::optional<std::uint64_t> CircuitBreaker::admit() {
    switch (state()) {
        case BreakerState::closed:
            ++stats_.admitted;
            return generation_;
        case BreakerState::half_open:
            if (trials_in_flight_ < opts_.half_open_trials) {
                ++trials_in_flight_;
                ++stats_.admitted;
                return generation_;
            }
            break;
        case BreakerState::open:
            break;
    }
    ++stats_.rejected;
    return std::nullopt;
}

void CircuitBreaker::settle(std::uint64_t gen, Outcome o) {
    switch (o) {
        case Outcome::success:
            ++stats_.successes;
            break;
        case Outcome::failure:
            ++stats_.failures;
            break;
        case Outcome::ignored:
            ++stats_.ignored;
            break;
    }
    // A call let through before the last state change says nothing about the
    // present state (and holds no trial slot of it).
    if (gen != generation_) return;
    switch (state_) {
        case BreakerState::closed: {
            if (o == Outcome::ignored) return;
            const bool failed = o == Outcome::failure;
            consecutive_failures_ = failed ? consecutive_failures_ + 1 : 0;
            bool open =
                opts_.failure_threshold > 0 && consecutive_failures_ >= opts_.failure_threshold;
            if (!ring_.empty()) {
                if (ring_count_ == ring_.size()) {
                    ring_failures_ -= ring_[ring_pos_];
                } else {
                    ++ring_count_;
                }
                ring_[ring_pos_] = failed ? 1 : 0;
                ring_failures_ += ring_[ring_pos_];
                ring_pos_ = (ring_pos_ + 1) % ring_.size();
                if (ring_count_ == ring_.size() &&
                    static_cast<double>(ring_failures_) >=
                        opts_.failure_ratio * static_cast<double>(ring_.size())) {
                    open = true;
                }
            }
            if (open) move_to(BreakerState::open);
            return;
        }
        case BreakerState::half_open:
            if (trials_in_flight_ > 0) --trials_in_flight_;
            if (o == Outcome::failure) {
                move_to(BreakerState::open);
            } else if (o == Outcome::success && ++trial_successes_ >= opts_.successes_to_close) {
                move_to(BreakerState::closed);
            }
            return;
        case BreakerState::open:
            return;  // (a manual record_* after trip())
    }
}

void CircuitBreaker::trip() {
    if (state_ == BreakerState::open) {
        opened_at_ = Loop::current().now();  // a new cool-down
        return;
    }
    move_to(BreakerState::open);
}

void CircuitBreaker::reset() {
    if (state_ != BreakerState::closed) {
        move_to(BreakerState::closed);
    } else {
        clear_counts();
    }
}

void CircuitBreaker::clear_counts() noexcept {
    consecutive_failures_ = 0;
    trials_in_flight_ = 0;
    trial_successes_ = 0;
    std::fill(ring_.begin(), ring_.end(), 0);
    ring_pos_ = ring_count_ = ring_failures_ = 0;
}

void CircuitBreaker::move_to(BreakerState to) {
    const BreakerState from = state_;
    state_ = to;
    ++generation_;
    clear_counts();
    if (to == BreakerState::open) {
        opened_at_ = Loop::current().now();
        ++stats_.opened;
    }
    log_debug("circuit breaker {}: {} -> {}", opts_.name, to_string(from), to_string(to));
    if (opts_.on_state_change) opts_.on_state_change(*this, from, to);
}

CircuitBreaker& CircuitBreakerMap::get(std::string_view key) {
    auto it = breakers_.find(key);
    if (it != breakers_.end()) return it->second;
    BreakerOptions o = defaults_;
    o.name = std::string(key);
    return breakers_.try_emplace(std::string(key), std::move(o)).first->second;
}

CircuitBreaker* CircuitBreakerMap::find(std::string_view key) noexcept {
    auto it = breakers_.find(key);
    return it == breakers_.end() ? nullptr : &it->second;
}

// ---- Bulkhead -----------------------------------------------------------

Bulkhead::~Bulkhead() {
    if (in_flight_ != 0 || waiting_ != 0) {
        log_error("Bulkhead destroyed with {} permits out and {} tasks waiting: they point to it",
                  in_flight_, waiting_);
        std::terminate();
    }
}

bool Bulkhead::AcquireAwaiter::suspend(std::coroutine_handle<> h, StopToken tok) {
    Bulkhead& b = *b_;
    if (tok.stop_requested()) {
        state_ = State::cancelled;
        return false;
    }
    if (b.head_ == nullptr && b.in_flight_ < b.limit_) {
        b.take();
        state_ = State::granted;
        return false;
    }
    if (b.waiting_ >= b.max_queue_) {
        ++b.stats_.rejected;
        state_ = State::rejected;
        return false;
    }
    waiter_ = h;
    loop_ = &Loop::current();
    state_ = State::queued;
    prev_ = b.tail_;
    next_ = nullptr;
    if (b.tail_ != nullptr) {
        b.tail_->next_ = this;
    } else {
        b.head_ = this;
    }
    b.tail_ = this;
    ++b.waiting_;
    ++b.stats_.queued;
    if (b.waiting_ > b.stats_.peak_waiting) b.stats_.peak_waiting = b.waiting_;
    if (tok.stop_possible()) {
        stop_.self = this;
        stop_.fn = [](StopCallbackBase* cb) noexcept {
            AcquireAwaiter* self = static_cast<StopNode*>(cb)->self;
            self->b_->unlink(*self);
            ++self->b_->stats_.cancelled;
            self->state_ = State::cancelled;
            self->loop_->schedule(self->waiter_);
        };
        tok.add(stop_);
    }
    return true;
}

std::optional<BulkheadPermit> Bulkhead::try_acquire() noexcept {
    if (head_ != nullptr || in_flight_ >= limit_) return std::nullopt;
    take();
    return BulkheadPermit(this);
}

void Bulkhead::unlink(AcquireAwaiter& w) noexcept {
    if (w.prev_ != nullptr) {
        w.prev_->next_ = w.next_;
    } else {
        head_ = w.next_;
    }
    if (w.next_ != nullptr) {
        w.next_->prev_ = w.prev_;
    } else {
        tail_ = w.prev_;
    }
    w.prev_ = w.next_ = nullptr;
    w.state_ = AcquireAwaiter::State::idle;
    --waiting_;
}

void Bulkhead::release() noexcept {
    --in_flight_;
    grant_waiters();
}

void Bulkhead::grant_waiters() noexcept {
    // Hand each free permit straight to the longest waiter: in_flight_ stays
    // at the limit while anyone waits, so a newcomer cannot overtake.
    while (head_ != nullptr && in_flight_ < limit_) {
        AcquireAwaiter* w = head_;
        unlink(*w);
        w->stop_.unlink();
        take();
        w->state_ = AcquireAwaiter::State::granted;
        w->loop_->schedule(w->waiter_);
    }
}

void Bulkhead::set_limit(std::size_t n) {
    limit_ = n == 0 ? 1 : n;
    grant_waiters();
}

}  // namespace corio
