// PgVec: a growable array in a Postgres memory context, enough of a
// std::vector for the core's heaps, searches and visited marks. It is
// trivially destructible (its memory goes with the context), so it may live
// where an ERROR longjmps; growing it may raise an ERROR (out of memory).
#pragma once

#include "common/cpp_boundary.h"

template <typename T>
struct PgVec {
    T *items = nullptr;
    int count = 0;
    int capacity = 0;
    MemoryContext cxt = nullptr;

    void Init(MemoryContext memory, int initial) {
        cxt = memory;
        capacity = initial > 4 ? initial : 4;
        items = (T *)MemoryContextAllocHuge(cxt, sizeof(T) * capacity);
        count = 0;
    }
    void clear() { count = 0; }
    size_t size() const { return (size_t)count; }
    bool empty() const { return count == 0; }
    T *begin() { return items; }
    T *end() { return items + count; }
    const T *begin() const { return items; }
    const T *end() const { return items + count; }
    T &front() { return items[0]; }
    T &back() { return items[count - 1]; }
    T &operator[](size_t i) { return items[i]; }
    const T &operator[](size_t i) const { return items[i]; }
    void pop_back() { count--; }
    void reserve(size_t n) {
        if (n <= (size_t)capacity) return;
        size_t c = (size_t)capacity * 2 > n ? (size_t)capacity * 2 : n;
        items = (T *)repalloc_huge(items, sizeof(T) * c);
        capacity = (int)c;
    }
    // New elements are left uninitialised (callers that need values set them).
    void resize(size_t n) {
        reserve(n);
        count = (int)n;
    }
    void push_back(const T &v) {
        if (count == capacity) reserve((size_t)capacity * 2);
        items[count++] = v;
    }
};
GV_ASSERT_LONGJMP_SAFE(PgVec<int>);
