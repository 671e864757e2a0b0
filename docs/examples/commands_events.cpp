// Commands vs events. A command is a request with one handler and a response
// the caller waits for: a channel of requests, each carrying its reply
// channel. An event tells whoever listens that something happened: the
// publisher neither knows nor waits for its subscribers (Broadcast).
#include <cstdio>
#include <string>
#include <utility>

#include <corio/runtime/broadcast.hpp>
#include <corio/runtime/channel.hpp>
#include <corio/runtime/loop.hpp>
#include <corio/runtime/task.hpp>
#include <corio/runtime/when_all.hpp>

using namespace corio;

struct Deposit {
    int amount;
    Channel<int> reply;  // the new balance
};

struct BalanceChanged {
    int balance;
};

// The command handler: owns the balance, answers each request, and
// publishes an event for every change.
Task<void> account(Channel<Deposit> requests, Broadcast<BalanceChanged>* events) {
    int balance = 0;
    for (;;) {
        auto req = co_await requests.recv();
        if (!req) break;
        balance += req->amount;
        (void)req->reply.try_send(balance);     // the response
        events->send(BalanceChanged{balance});  // the event: never waits
    }
    events->close();
}

// An event listener: an audit log that does not know who changes the balance.
Task<int> audit(Subscriber<BalanceChanged> changes) {
    int seen = 0;
    for (;;) {
        auto e = co_await changes.recv();
        if (e) {
            std::printf("audit: balance is now %d\n", e->balance);
            ++seen;
        } else if (e.error() != Errc::lagged) {
            co_return seen;  // channel_closed: the publisher is gone
        }
    }
}

// A command sender: waits for its response.
Task<int> client(Channel<Deposit> requests) {
    int last = 0;
    static constexpr int amounts[] = {10, 20, 12};
    for (int amount : amounts) {
        Channel<int> reply(1);
        // Named, not `send(Deposit{...})`: g++ 12 destroys an aggregate
        // temporary made inside a co_await expression twice (README, Limits).
        Deposit d{amount, reply};
        (void)co_await requests.send(std::move(d));
        last = *co_await reply.recv();
        std::printf("client: deposited %d, balance %d\n", amount, last);
    }
    requests.close();
    co_return last;
}

Task<bool> bank() {
    Channel<Deposit> requests(8);
    Broadcast<BalanceChanged> events(16);
    auto sub = events.subscribe();
    auto [ignored, seen, last] =
        co_await when_all(account(requests, &events), audit(std::move(sub)), client(requests));
    (void)ignored;
    co_return seen == 3 && last == 42;
}

int main() {
    return block_on(bank()) ? 0 : 1;
}
