// IdTable: an open-addressing hash table from 32-bit ids to 32-bit values
// (linear probing, power-of-two capacity, grown at half full), over a
// caller's growable array of entries (std::vector, or palloc'd PgVec). Its
// memory follows what it holds, not the id range: an index scan visits a few
// thousand nodes of millions, and a dense array of marks per scan would cost
// more than the search (allocating and clearing it was most of a query's
// fixed cost on a 60k-node index).
//
// Clear is O(capacity); capacity stays within 4x the most entries held (it
// never shrinks: a scan clears it per rescan, with about as many entries).
#pragma once

#include <cstddef>
#include <cstdint>

namespace gigavector {

struct IdTableEntry {
    uint32_t key;  // kEmptyKey when free
    uint32_t value;
};

template <class Array>
class IdTable {
public:
    static constexpr uint32_t kEmptyKey = 0xFFFFFFFFu;  // never an id (kNoNode)

    Array &array() { return entries_; }

    // Empties the table, keeping room for about `expected` entries.
    void Clear(std::size_t expected = 0) {
        std::size_t want = 64;
        while (want < 2 * expected) want *= 2;
        if (entries_.size() < want) Rehash(want, false);
        for (std::size_t i = 0; i < entries_.size(); i++) entries_[i].key = kEmptyKey;
        used_ = 0;
    }

    // The value slot of key, inserted with `initial` when absent; *inserted
    // says which. (The pointer is valid until the next insertion.)
    uint32_t *FindOrInsert(uint32_t key, uint32_t initial, bool *inserted) {
        if (entries_.size() == 0 || 2 * (used_ + 1) > entries_.size())
            Rehash(entries_.size() ? entries_.size() * 2 : 64, true);
        std::size_t mask = entries_.size() - 1;
        for (std::size_t h = Hash(key) & mask;; h = (h + 1) & mask) {
            if (entries_[h].key == key) {
                *inserted = false;
                return &entries_[h].value;
            }
            if (entries_[h].key == kEmptyKey) {
                entries_[h].key = key;
                entries_[h].value = initial;
                used_++;
                *inserted = true;
                return &entries_[h].value;
            }
        }
    }

    // The value of key, or nullptr.
    const uint32_t *Find(uint32_t key) const {
        if (entries_.size() == 0) return nullptr;
        std::size_t mask = entries_.size() - 1;
        for (std::size_t h = Hash(key) & mask;; h = (h + 1) & mask) {
            if (entries_[h].key == key) return &entries_[h].value;
            if (entries_[h].key == kEmptyKey) return nullptr;
        }
    }

    std::size_t size() const { return used_; }

    // Calls f(key, value) for every entry.
    template <class F>
    void ForEach(F &&f) const {
        for (std::size_t i = 0; i < entries_.size(); i++)
            if (entries_[i].key != kEmptyKey) f(entries_[i].key, entries_[i].value);
    }

private:
    static std::size_t Hash(uint32_t key) { return (std::size_t)((key * 0x9e3779b1u) >> 7) ^ key; }

    // Grows to `capacity` (a power of two), keeping the entries when `keep`.
    void Rehash(std::size_t capacity, bool keep) {
        std::size_t old = entries_.size();
        if (!keep || old == 0) {
            entries_.resize(capacity);
            for (std::size_t i = 0; i < capacity; i++) entries_[i].key = kEmptyKey;
            used_ = 0;
            return;
        }
        // move the old entries to the end, then re-insert them
        entries_.resize(capacity + old);
        for (std::size_t i = old; i-- > 0;) entries_[capacity + i] = entries_[i];
        for (std::size_t i = 0; i < capacity; i++) entries_[i].key = kEmptyKey;
        std::size_t mask = capacity - 1;
        for (std::size_t i = 0; i < old; i++) {
            IdTableEntry e = entries_[capacity + i];
            if (e.key == kEmptyKey) continue;
            std::size_t h = Hash(e.key) & mask;
            while (entries_[h].key != kEmptyKey) h = (h + 1) & mask;
            entries_[h] = e;
        }
        entries_.resize(capacity);
    }

    Array entries_;
    std::size_t used_ = 0;
};

}  // namespace gigavector
