#pragma once
// A log-linear latency histogram (HDR-style): constant memory, ~1.6% relative
// precision, O(1) record, mergeable across threads.

#include <array>
#include <bit>
#include <cstddef>
#include <cstdint>

namespace corio::examples {

class Histogram {
public:
    static constexpr int sub_bits = 7;                       // 64 buckets per power of two
    static constexpr std::uint64_t half = 1u << (sub_bits - 1);
    static constexpr std::size_t buckets = (64 - sub_bits + 2) * half;

    void record(std::uint64_t v) noexcept {
        ++counts_[index(v)];
        ++total_;
        if (v > max_) max_ = v;
    }
    void merge(const Histogram& o) noexcept {
        for (std::size_t i = 0; i < buckets; ++i) counts_[i] += o.counts_[i];
        total_ += o.total_;
        if (o.max_ > max_) max_ = o.max_;
    }
    std::uint64_t count() const noexcept { return total_; }
    std::uint64_t max() const noexcept { return max_; }

    /// The value at quantile q (0..1): the lower bound of its bucket.
    std::uint64_t quantile(double q) const noexcept {
        if (total_ == 0) return 0;
        auto rank = static_cast<std::uint64_t>(q * double(total_ - 1)) + 1;
        std::uint64_t seen = 0;
        for (std::size_t i = 0; i < buckets; ++i) {
            seen += counts_[i];
            if (seen >= rank) return value_of(i);
        }
        return max_;
    }

    static std::size_t index(std::uint64_t v) noexcept {
        if (v < 2 * half) return static_cast<std::size_t>(v);
        int msb = 63 - std::countl_zero(v);
        int shift = msb - (sub_bits - 1);
        return static_cast<std::size_t>(shift) * half + static_cast<std::size_t>(v >> shift);
    }
    static std::uint64_t value_of(std::size_t i) noexcept {
        if (i < 2 * half) return i;
        std::size_t shift = i / half - 1;
        return (i % half + half) << shift;
    }

private:
    std::array<std::uint64_t, buckets> counts_{};
    std::uint64_t total_ = 0;
    std::uint64_t max_ = 0;
};

}  // namespace corio::examples
