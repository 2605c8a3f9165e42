// Deterministic identities for tests: Identity::from_seed(seed_of(1)), ...
#pragma once

#include <array>
#include <cstdint>

namespace earshot::test {

inline std::array<std::uint8_t, 32> seed_of(std::uint8_t b) {
    std::array<std::uint8_t, 32> s;
    s.fill(b);
    return s;
}

} // namespace earshot::test
