#pragma once
// A deterministic simulation: several hosts in one thread, each with its own
// corio Loop, talking over a simulated network in virtual time. One seed
// decides everything that varies (the run order of ready tasks, latencies,
// how sends are cut into segments, datagram loss and duplication, the
// faults a scenario draws), so the same seed replays the same run, event for
// event; the trace hash says so.
//
//   sim::World w({.seed = 42});
//   auto& server = w.add_host("server", serve_main);    // 192.0.2.1
//   auto& client = w.add_host("client");                // 192.0.2.2
//   auto r = w.block_on(client, fetch(server.address(80)));
//   std::puts(w.summary().c_str());                     // seed=42 events=... hash=...
//
// The programs on the hosts are ordinary corio code: TcpListener, TcpStream,
// UdpSocket, timers, channels. See docs/simulation.md for what is modelled.

#include <chrono>
#include <cstddef>
#include <cstdint>
#include <functional>
#include <memory>
#include <optional>
#include <random>
#include <stdexcept>
#include <string>
#include <vector>

#include <corio/runtime/clock.hpp>
#include <corio/runtime/loop.hpp>
#include <corio/runtime/task.hpp>

namespace corio::sim {

/// How a World is made.
struct WorldOptions {
    /// Decides the run. CORIO_SIM_SEED=N replaces it (unless use_env is false),
    /// so a failing seed printed by a test replays under the same test.
    std::uint64_t seed = 1;
    bool use_env = true;
    /// Each pair of hosts gets a one-way latency drawn from this range when
    /// it first talks; every segment adds up to a quarter of it as jitter.
    Duration min_latency = std::chrono::microseconds(100);
    Duration max_latency = std::chrono::milliseconds(2);
    /// Per direction of a TCP connection: bytes in flight plus bytes unread
    /// by the receiver. A sender to a reader that stops blocks once it is
    /// full, as with the kernel's socket buffers.
    std::size_t window = 64 * 1024;
    /// A send is cut into segments of 1..max_segment bytes (drawn), so the
    /// reader sees partial reads.
    std::size_t max_segment = 1460;
    /// Datagrams: probability of loss and of duplication; reordering comes
    /// from the jitter.
    double udp_loss = 0.0;
    double udp_duplicate = 0.0;
    /// A disk call (open, write, fsync, rename, ...) completes after a
    /// latency drawn from [0, disk_latency].
    Duration disk_latency = std::chrono::microseconds(200);
};

class World;

/// One simulated machine: an address in 192.0.2.0/24, a loop while it is up,
/// and what it runs when it boots.
class Host {
public:
    using Boot = std::function<Task<void>()>;

    const std::string& name() const noexcept { return name_; }
    /// "192.0.2.N".
    const std::string& ip() const noexcept { return ip_text_; }
    /// "192.0.2.N:PORT", for net::Address::parse.
    std::string endpoint(std::uint16_t port) const { return ip_text_ + ":" + std::to_string(port); }
    std::uint32_t index() const noexcept { return index_; }
    bool up() const noexcept { return loop_ != nullptr; }
    /// The host's loop, or null while it is down.
    Loop* loop_if_up() const noexcept { return loop_.get(); }
    /// The host's loop (std::logic_error while the host is down).
    Loop& loop() const;

private:
    friend class World;
    friend struct WorldAccess;
    std::string name_;
    std::string ip_text_;
    std::uint32_t index_ = 0;
    Boot boot_;
    std::unique_ptr<Loop> loop_;
    TimePoint stalled_until_{};
};

/// The simulated world. Single-threaded: create and drive it on one thread.
class World {
public:
    explicit World(WorldOptions opts = {});
    ~World();
    World(const World&) = delete;
    World& operator=(const World&) = delete;

    /// Adds a host (192.0.2.1, .2, ... in order) and boots it: `boot`, if
    /// given, is spawned on its loop now and again after every restart.
    Host& add_host(std::string name, Host::Boot boot = {});
    Host& host(std::size_t i) const { return *hosts_.at(i); }
    std::size_t hosts() const noexcept { return hosts_.size(); }

    std::uint64_t seed() const noexcept { return seed_; }
    const WorldOptions& options() const noexcept { return opts_; }
    /// The virtual time (it starts at the ManualClock's epoch).
    TimePoint now() const noexcept { return clock_.now(); }
    /// Virtual time since the world began.
    Duration elapsed() const noexcept { return clock_.now() - start_; }
    /// The seed's generator, for scenarios that draw their own decisions
    /// (which host to crash, when): drawing from it keeps the run replayable.
    std::mt19937_64& rng() noexcept { return rng_; }

    // ---- driving ----
    /// One step: runs every host that has work (in a seeded order), delivers
    /// what is due; when nothing is, jumps time to the next event or timer.
    /// False when nothing can ever happen again. Time never jumps past
    /// `limit` (it stops there).
    bool step(TimePoint limit = TimePoint::max());
    /// Steps until `done()` is true (checked after every step); false when
    /// the world went idle for good or `limit` of virtual time passed first.
    template <class Pred>
    bool run_until(Pred done, Duration limit = std::chrono::hours(24)) {
        const TimePoint end = now() + limit;
        while (!done()) {
            if (now() >= end || !step(end)) return done();
        }
        return true;
    }
    /// Steps until `d` of virtual time has passed (or nothing can happen).
    void run_for(Duration d);
    /// Spawns `t` on `h` and runs the world until it finishes; its value.
    /// Throws std::runtime_error (naming the seed) when it never can. The
    /// host must stay up until then.
    template <class T>
    T block_on(Host& h, Task<T> t) {
        JoinHandle<T> jh = h.loop().spawn(std::move(t));
        if (!run_until([&] { return jh.done(); })) {
            throw std::runtime_error("sim: the task on " + h.name() +
                                     " can never finish (deadlock or time limit); " + summary());
        }
        return jh.take_result();
    }

    // ---- faults (on command; a scenario draws them from rng()) ----
    /// Cuts both directions between `a` and `b`: TCP segments wait (the
    /// kernel would retransmit them) and go on after restore(); datagrams
    /// and connection attempts are lost.
    void cut(Host& a, Host& b);
    void restore(Host& a, Host& b);
    /// Cuts every link between a host of `a` and one of `b`.
    void partition(const std::vector<Host*>& a, const std::vector<Host*>& b);
    /// Restores every cut link.
    void heal();
    /// Sets the one-way latency between `a` and `b` (both directions).
    void set_latency(Host& a, Host& b, Duration d);
    /// Resets (RST) every TCP connection of `h`: both ends see
    /// connection_reset. Returns how many.
    std::size_t reset_connections(Host& h);
    /// Resets one established TCP connection of `h` drawn by the seed; false
    /// when it has none.
    bool reset_one_connection(Host& h);
    /// `h`'s program does not run for `d` (its kernel still takes data into
    /// its buffers, up to the windows); timers fire late.
    void stall(Host& h, Duration d);
    /// Powers `h` off: its loop and tasks are gone without a word on the
    /// network; what is sent to it waits as on a cut link, and peers hear a
    /// reset only after it restarts. Its disk keeps what was fsynced: names
    /// not fsynced in their directory are lost; file data not fsynced is
    /// lost, cut short or kept, as the seed decides.
    void crash(Host& h);
    /// Boots a crashed host again: a fresh loop running its boot function.
    void restart(Host& h);
    /// From now on every write and fsync on `h`'s disk fails with `err`
    /// (EIO, ENOSPC; creating files too for ENOSPC); 0 ends it.
    void disk_error(Host& h, int err);
    /// `h`'s disk holds at most `bytes` of file data: a write past that
    /// writes what fits, then fails with ENOSPC.
    void disk_capacity(Host& h, std::size_t bytes);
    /// Runs `fn` when `delay` of virtual time has passed (a fault at a time).
    void at(Duration delay, std::function<void()> fn);

    // ---- the trace ----
    /// A hash of every event so far (deliveries, steps, faults): equal for
    /// equal seeds, and the thing a replay compares.
    std::uint64_t hash() const noexcept { return hash_; }
    /// Events so far.
    std::uint64_t events() const noexcept { return events_; }
    /// Faults injected so far (cuts, resets, stalls, crashes).
    std::uint64_t faults() const noexcept { return faults_; }
    /// Mixes a value of the scenario's own into the trace.
    void note(std::uint64_t v) noexcept;
    /// "seed=N events=E sim_seconds=S hash=H".
    std::string summary() const;

    struct Impl;

private:
    friend class corio::detail::SimIo;
    friend struct WorldAccess;
    void boot(Host& h);

    WorldOptions opts_;
    std::uint64_t seed_;
    ManualClock clock_;
    TimePoint start_;
    std::mt19937_64 rng_;
    std::vector<std::unique_ptr<Host>> hosts_;
    std::unique_ptr<Impl> impl_;
    std::uint64_t hash_ = 0xcbf29ce484222325ull;
    std::uint64_t events_ = 0;
    std::uint64_t faults_ = 0;
};

/// Runs `scenario(seed)` for `count` seeds from `first` and gives the first
/// seed for which it returns false or throws (nullopt: every one passed).
/// With CORIO_SIM_SEED set, runs that seed only.
std::optional<std::uint64_t> find_failing_seed(const std::function<bool(std::uint64_t)>& scenario,
                                               std::uint64_t first, std::uint64_t count);

/// The seed CORIO_SIM_SEED names, if it is set and a number.
std::optional<std::uint64_t> seed_from_env() noexcept;

}  // namespace corio::sim
