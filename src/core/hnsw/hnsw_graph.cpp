// In-memory HNSW graph: insertion (Algorithm 1 of Malkov & Yashunin) with
// the policy of hnsw_policy.h, multi-threaded linking, and search.
#include "gigavector/hnsw/hnsw_graph.h"

#include "gigavector/ann/best_first.h"
#include "gigavector/hnsw/hnsw_orphans.h"

#include <algorithm>
#include <cstddef>
#include <cstring>
#include <exception>
#include <new>
#include <thread>

#include <pthread.h>
#include <signal.h>

namespace gigavector {

namespace {

constexpr std::size_t kAlign = 64;

std::size_t AlignUp(std::size_t n) {
    return (n + kAlign - 1) & ~(kAlign - 1);
}

// Node record: lock, level, reserved, upper, count0 (12 bytes), then 2m ids.
constexpr std::size_t kRecordHeader = 12;

std::size_t RecordSize(const HnswParams &params) {
    return kRecordHeader + sizeof(uint32_t) * (std::size_t)MaxNeighbors(params.m, 0);
}

// Expected upper lists per node is 1/(m-1); reserve twice that plus slack.
std::size_t UpperSlots(std::size_t capacity, const HnswParams &params) {
    std::size_t list = (std::size_t)params.m + 1;
    std::size_t m1 = (std::size_t)(params.m > 2 ? params.m - 1 : 1);
    return (2 * capacity / m1 + 64) * list;
}

}  // namespace

// Per-thread working memory for linking and searching.
struct HnswGraph::Scratch {
    VisitedMarks<std::vector<uint16_t>> visited;
    std::vector<Candidate> results, candidates, entries, sorted, chosen, pruned;
    std::vector<Candidate> relink, relink_selected;  // AddBacklink's own
    std::vector<NodeId> ids;
    std::vector<NodeId> dropped;  // members back-links pushed out, for LinkDropped
    std::size_t distances = 0;    // computed while linking (link_distances())
};

// Graph view for SearchLayer over the in-memory graph: copies a node's list
// under its lock, prefetches the unvisited neighbours' vectors, then
// computes their distances.
class HnswGraph::View {
public:
    View(const HnswGraph &graph, const float *query, std::vector<NodeId> &ids)
        : graph_(graph), query_(query), ids_(ids) {}

    template <class Visited, class Visit>
    void ForEachUnvisitedNeighbor(NodeId node, int level, Visited &visited, Visit &&visit) {
        graph_.ReadNeighbors(node, level, ids_);
        std::size_t n = 0;
        const std::size_t bytes = sizeof(float) * (std::size_t)graph_.dim();
        for (NodeId id : ids_) {
            if (visited.Insert(id)) {
                ids_[n++] = id;
                // the whole vector: the distance loop would stall on each line
                const char *v = reinterpret_cast<const char *>(graph_.vector(id));
                for (std::size_t line = 0; line < bytes && line < 1024; line += 64)
                    __builtin_prefetch(v + line);
            }
        }
        for (std::size_t i = 0; i < n; i++) visit(ids_[i], graph_.DistanceTo(query_, ids_[i]));
        distances_ += n;
    }
    void AfterExpand() {}
    std::size_t distances() const { return distances_; }

private:
    const HnswGraph &graph_;
    const float *query_;
    std::vector<NodeId> &ids_;
    std::size_t distances_ = 0;
};

// Slots per node for the level-0 candidates kept aside (count first).
std::size_t DeferredSlots(const HnswParams &params) {
    return 1 + (std::size_t)OwnListFill(params.m, 0);
}

std::size_t HnswGraph::BytesNeeded(std::size_t capacity, int dim, const HnswParams &params) {
    return AlignUp(capacity * (std::size_t)dim * sizeof(float)) +
           AlignUp(capacity * RecordSize(params)) +
           AlignUp(UpperSlots(capacity, params) * sizeof(uint32_t)) +
           AlignUp(capacity * DeferredSlots(params) * sizeof(uint32_t));
}

HnswGraph::HnswGraph(void *memory, std::size_t bytes, std::size_t capacity, int dim, Metric metric,
                     const HnswParams &params)
    : capacity_(capacity),
      dim_(dim),
      metric_(metric),
      params_(params),
      kernels_(&ActiveKernels()),
      record_size_(RecordSize(params)) {
    static_assert(offsetof(NodeRecord, ids0) == kRecordHeader, "record layout");
    if (bytes < BytesNeeded(capacity, dim, params)) throw std::bad_alloc();
    unsigned char *p = static_cast<unsigned char *>(memory);
    vectors_ = reinterpret_cast<float *>(p);
    p += AlignUp(capacity * (std::size_t)dim * sizeof(float));
    records_ = p;
    p += AlignUp(capacity * record_size_);
    upper_ = reinterpret_cast<uint32_t *>(p);
    upper_capacity_ = UpperSlots(capacity, params);
    p += AlignUp(upper_capacity_ * sizeof(uint32_t));
    deferred_ = reinterpret_cast<uint32_t *>(p);
}

void HnswGraph::MoveTo(void *memory, std::size_t bytes, std::size_t capacity) {
    if (capacity < size_ || bytes < BytesNeeded(capacity, dim_, params_) ||
        UpperSlots(capacity, params_) < upper_used_)
        throw std::bad_alloc();
    unsigned char *p = static_cast<unsigned char *>(memory);
    float *vectors = reinterpret_cast<float *>(p);
    p += AlignUp(capacity * (std::size_t)dim_ * sizeof(float));
    unsigned char *records = p;
    p += AlignUp(capacity * record_size_);
    uint32_t *upper = reinterpret_cast<uint32_t *>(p);
    p += AlignUp(UpperSlots(capacity, params_) * sizeof(uint32_t));
    uint32_t *deferred = reinterpret_cast<uint32_t *>(p);
    // (records are plain bytes with a one-byte spinlock, free before linking)
    std::memcpy(vectors, vectors_, size_ * (std::size_t)dim_ * sizeof(float));
    std::memcpy(records, records_, size_ * record_size_);
    std::memcpy(upper, upper_, upper_used_ * sizeof(uint32_t));
    std::memcpy(deferred, deferred_, size_ * DeferredSlots(params_) * sizeof(uint32_t));
    vectors_ = vectors;
    records_ = records;
    upper_ = upper;
    deferred_ = deferred;
    capacity_ = capacity;
    upper_capacity_ = UpperSlots(capacity, params_);
}

uint32_t *HnswGraph::List(NodeId id, int level) const {
    NodeRecord *r = Record(id);
    if (level == 0) return &r->count0;
    return upper_ + r->upper + (std::size_t)(level - 1) * ((std::size_t)params_.m + 1);
}

void HnswGraph::Lock(NodeId id) const {
    std::atomic<uint8_t> &lock = Record(id)->lock;
    while (lock.exchange(1, std::memory_order_acquire) != 0) {
        while (lock.load(std::memory_order_relaxed) != 0) __builtin_ia32_pause();
    }
}

void HnswGraph::Unlock(NodeId id) const {
    Record(id)->lock.store(0, std::memory_order_release);
}

NodeId HnswGraph::Add(const float *vector, int level) {
    if (size_ >= capacity_) return kNoNode;
    if (level < 0) level = 0;
    if (level > kHnswMaxLevel) level = kHnswMaxLevel;
    std::size_t upper_needed = (std::size_t)level * ((std::size_t)params_.m + 1);
    if (upper_used_ + upper_needed > upper_capacity_) return kNoNode;

    NodeId id = (NodeId)size_;
    float *dst = vectors_ + (std::size_t)id * dim_;
    std::memcpy(dst, vector, sizeof(float) * dim_);
    PrepareForMetric(metric_, dst, (std::size_t)dim_);

    NodeRecord *r = new (records_ + (std::size_t)id * record_size_) NodeRecord;
    r->lock.store(0, std::memory_order_relaxed);
    r->level = (uint8_t)level;
    r->reserved = 0;
    r->upper = (uint32_t)upper_used_;
    r->count0 = 0;
    for (int l = 1; l <= level; l++) List(id, l)[0] = 0;
    deferred_[(std::size_t)id * DeferredSlots(params_)] = 0;
    upper_used_ += upper_needed;
    size_++;
    return id;
}

int HnswGraph::CopyNeighbors(NodeId id, int level, NodeId *out) const {
    Lock(id);
    const uint32_t *list = List(id, level);
    int n = (int)list[0];
    std::memcpy(out, list + 1, sizeof(NodeId) * n);
    Unlock(id);
    return n;
}

// Without the node's lock (searches only). A writer stores the ids before
// the count (release), so the first `count` ids read after the count
// (acquire) are node ids, old or new: a list only ever holds ids of added
// nodes, and a slot past a shrunken count keeps an id it held before. A
// search may so see a list half re-selected; it only changes which
// neighbours it looks at. Locking every read cost 14% of the link time.
void HnswGraph::ReadNeighbors(NodeId id, int level, std::vector<NodeId> &out) const {
    const uint32_t *list = List(id, level);
    uint32_t n = __atomic_load_n(&list[0], __ATOMIC_ACQUIRE);
    uint32_t max = (uint32_t)MaxNeighbors(params_.m, level);
    if (n > max) n = max;
    out.resize(n);
    for (uint32_t i = 0; i < n; i++) out[i] = __atomic_load_n(&list[1 + i], __ATOMIC_RELAXED);
}

void HnswGraph::CopyNeighbors(NodeId id, int level, std::vector<NodeId> &out) const {
    Lock(id);
    const uint32_t *list = List(id, level);
    out.assign(list + 1, list + 1 + list[0]);
    Unlock(id);
}

// Adds `from` to target's list on `level`; when the list is full, re-selects
// with the heuristic among the old neighbours and `from`.
bool HnswGraph::AddBacklink(NodeId target, NodeId from, int level, Scratch &s, bool force,
                            bool hand_over) {
    int max = MaxNeighbors(params_.m, level);
    const float *tv = vector(target);
    Lock(target);
    uint32_t *list = List(target, level);
    uint32_t count = list[0];
    for (uint32_t i = 0; i < count; i++) {
        if (list[1 + i] == from) {
            Unlock(target);
            return true;
        }
    }
    if ((int)count < max) {
        __atomic_store_n(&list[1 + count], from, __ATOMIC_RELAXED);
        __atomic_store_n(&list[0], count + 1, __ATOMIC_RELEASE);
        Unlock(target);
        return true;
    }
    s.relink.clear();
    s.relink.push_back({DistanceTo(tv, from), from});
    for (uint32_t i = 0; i < count; i++)
        s.relink.push_back({DistanceTo(tv, list[1 + i]), list[1 + i]});
    std::sort(s.relink.begin(), s.relink.end(), CloserFromBase{target});
    ShrinkResult r = ShrinkList(
        s.relink, from, max, OwnListFill(params_.m, level), DuplicateDistance(metric_), force,
        [this, &s](NodeId a, NodeId b) {
            s.distances++;
            return DistanceTo(vector(a), b);
        },
        s.relink_selected, s.pruned);
    s.distances += count + 1;
    for (uint32_t i = 0; i < count; i++) {
        NodeId member = list[1 + i];
        bool stays = false;
        for (const Candidate &c : s.relink_selected) stays |= c.id == member;
        if (!stays && !(member == r.dropped && r.witness != kNoNode)) s.dropped.push_back(member);
    }
    for (std::size_t i = 0; i < s.relink_selected.size(); i++)
        __atomic_store_n(&list[1 + i], s.relink_selected[i].id, __ATOMIC_RELAXED);
    __atomic_store_n(&list[0], (uint32_t)s.relink_selected.size(), __ATOMIC_RELEASE);
    Unlock(target);
    // the in-link the dropped member lost goes to its witness (one step: what
    // that back-link drops in turn goes to the new node)
    if (r.dropped != kNoNode && r.witness != kNoNode) {
        if (hand_over)
            AddBacklink(r.witness, r.dropped, level, s, false, false);
        else
            s.dropped.push_back(r.dropped);
    }
    return r.kept;
}

// Algorithm 1: descend greedily to the node's level, then on each level from
// there down find ef_construction candidates, keep the heuristic's choice as
// neighbours and link back.
void HnswGraph::Link(NodeId id, Scratch &s) {
    int level = Record(id)->level;
    std::unique_lock<std::mutex> entry_lock(entry_mutex_);
    NodeId entry = entry_;
    int top = max_level_;
    if (entry == kNoNode) {
        entry_ = id;
        max_level_ = level;
        return;
    }
    if (level <= top) entry_lock.unlock();  // else hold it: we become the entry

    const float *q = vector(id);
    View view(*this, q, s.ids);
    Candidate cur{DistanceTo(q, entry), entry};
    for (int l = top; l > level; l--) {
        s.visited.Reset(size_);
        s.visited.Insert(id);
        s.visited.Insert(cur.id);
        GreedyClosest(view, s.visited, l, cur);
    }
    s.entries.assign(1, cur);
    for (int l = std::min(level, top); l >= 0; l--) {
        s.visited.Reset(size_);
        s.visited.Insert(id);
        for (const Candidate &e : s.entries) s.visited.Insert(e.id);
        SearchLayer(view, s.visited, s.entries, params_.ef_construction, l, s.results,
                    s.candidates);
        s.sorted.assign(s.results.begin(), s.results.end());
        std::sort(s.sorted.begin(), s.sorted.end(), CloserFromBase{id});
        // level 0 keeps the pruned candidates aside for FillDeferred
        int fill = l == 0 ? LinkTimeFill(params_.m) : OwnListFill(params_.m, l);
        s.chosen.clear();
        SelectNeighbors(
            s.sorted, MaxNeighbors(params_.m, l), fill, DuplicateDistance(metric_),
            [this, &s](NodeId a, NodeId b) {
                s.distances++;
                return DistanceTo(vector(a), b);
            },
            s.chosen, s.pruned);
        if (l == 0) {
            uint32_t *kept = deferred_ + (std::size_t)id * DeferredSlots(params_);
            std::size_t room = DeferredSlots(params_) - 1;
            std::size_t n = 0;
            for (std::size_t i = 0; i < s.pruned.size() && n < room; i++)
                kept[1 + n++] = s.pruned[i].id;
            kept[0] = (uint32_t)n;
        }
        Lock(id);
        uint32_t *list = List(id, l);
        for (std::size_t i = 0; i < s.chosen.size(); i++)
            __atomic_store_n(&list[1 + i], s.chosen[i].id, __ATOMIC_RELAXED);
        __atomic_store_n(&list[0], (uint32_t)s.chosen.size(), __ATOMIC_RELEASE);
        Unlock(id);
        // Link back; if every neighbour's heuristic dropped us, force a link
        // from the nearest, or the node would be unreachable on this level.
        bool linked = false;
        s.dropped.clear();
        for (const Candidate &c : s.chosen) linked |= AddBacklink(c.id, id, l, s, false, true);
        for (std::size_t i = 0; i < s.chosen.size() && !linked; i++)
            linked = AddBacklink(s.chosen[i].id, id, l, s, true, true);
        if (!s.dropped.empty()) {
            // the members pushed out lost an in-link: link them from the new node
            // (ids first, then the count: searches read the list unlocked)
            Lock(id);
            uint32_t *own = List(id, l);
            int count = (int)own[0], before = count;
            s.ids.assign(own + 1, own + 1 + count);
            s.ids.resize(MaxNeighbors(params_.m, l));
            // (0: replace nothing, ConnectUnreached follows; so only the
            // places past `before` change)
            LinkDropped(id, s.dropped.data(), (int)s.dropped.size(), MaxNeighbors(params_.m, l), 0,
                        s.ids.data(), &count, [](NodeId) { return true; });
            for (int i = before; i < count; i++)
                __atomic_store_n(&own[1 + i], s.ids[i], __ATOMIC_RELAXED);
            __atomic_store_n(&own[0], (uint32_t)count, __ATOMIC_RELEASE);
            Unlock(id);
        }
        s.entries.swap(s.sorted);
    }
    if (level > top) {
        entry_ = id;
        max_level_ = level;
    }
    s.distances += view.distances();
}

bool HnswGraph::LinkRange(NodeId first, NodeId last, int threads, ProgressFn progress,
                          void *progress_context, NodeId *resume_at) {
    // The first nodes are linked by one thread: while the graph is small,
    // nodes linked at the same time miss each other, and those early links
    // carry every later search (4 threads on 6000 nodes lost 0.04 recall).
    constexpr NodeId kSerialNodes = 2048;
    if (threads > 1 && first < kSerialNodes && last > first) {
        NodeId serial_end = std::min(last, kSerialNodes);
        NodeId stopped_at = serial_end;
        if (!LinkRange(first, serial_end, 1, progress, progress_context, &stopped_at)) {
            if (resume_at) *resume_at = stopped_at;
            return false;
        }
        first = serial_end;
        if (first == last) {
            if (resume_at) *resume_at = last;
            return true;
        }
    }
    std::atomic<std::size_t> next{first};
    std::atomic<bool> stop{false};
    std::atomic<std::size_t> linked{0};
    std::exception_ptr failure;
    std::mutex failure_mutex;

    auto work = [&](bool leader) {
        try {
            Scratch scratch;
            std::size_t since_report = 0;
            for (;;) {
                if (stop.load(std::memory_order_relaxed)) {
                    link_distances_.fetch_add(scratch.distances, std::memory_order_relaxed);
                    return;
                }
                std::size_t id = next.fetch_add(1);
                if (id >= last) {
                    link_distances_.fetch_add(scratch.distances, std::memory_order_relaxed);
                    return;
                }
                Link((NodeId)id, scratch);
                linked.fetch_add(1, std::memory_order_relaxed);
                if (leader && progress && ++since_report >= 256) {
                    since_report = 0;
                    if (!progress(progress_context, linked.load())) stop.store(true);
                }
            }
        } catch (...) {
            std::lock_guard<std::mutex> guard(failure_mutex);
            if (!failure) failure = std::current_exception();
            stop.store(true);
        }
    };

    // Helper threads start with every signal blocked: the host process (a
    // Postgres backend) must receive its signals on the calling thread.
    std::vector<std::thread> helpers;
    if (threads > 1) {
        sigset_t all, old;
        sigfillset(&all);
        pthread_sigmask(SIG_BLOCK, &all, &old);
        try {
            for (int t = 1; t < threads; t++) helpers.emplace_back(work, false);
        } catch (...) {
            // could not start a thread: go on with those we have
        }
        pthread_sigmask(SIG_SETMASK, &old, nullptr);
    }
    work(true);
    for (std::thread &t : helpers) t.join();
    if (failure) std::rethrow_exception(failure);
    // Each worker finishes the node it took before it looks at `stop`, so
    // every id handed out (below `next`) is linked.
    if (resume_at) *resume_at = (NodeId)std::min<std::size_t>(next.load(), last);
    if (stop.load()) return false;
    if (progress && !progress(progress_context, linked.load())) return false;
    return true;
}

std::size_t HnswGraph::FillDeferred() {
    const uint32_t fill = (uint32_t)OwnListFill(params_.m, 0);
    std::size_t added = 0;
    for (std::size_t id = 0; id < size_; id++) {
        uint32_t *list = List((NodeId)id, 0);
        uint32_t *kept = deferred_ + id * DeferredSlots(params_);
        for (uint32_t i = 0; i < kept[0] && list[0] < fill; i++) {
            uint32_t candidate = kept[1 + i];
            if (std::find(list + 1, list + 1 + list[0], candidate) != list + 1 + list[0]) continue;
            list[1 + list[0]++] = candidate;
            added++;
        }
        kept[0] = 0;
    }
    return added;
}

// The store ConnectUnreached works on: this graph's level-0 lists (single
// threaded, after linking).
class HnswGraph::Level0Lists {
public:
    explicit Level0Lists(HnswGraph &g) : g_(g) {}
    NodeId NodeCount() const { return (NodeId)g_.size_; }
    NodeId Entry() const { return g_.entry_; }
    bool Live(NodeId) const { return true; }
    int Read(NodeId id, NodeId *out) const {
        const uint32_t *list = g_.List(id, 0);
        std::memcpy(out, list + 1, sizeof(NodeId) * list[0]);
        return (int)list[0];
    }
    bool Write(NodeId via, const NodeId *, int, const NodeId *ids, int count) {
        uint32_t *list = g_.List(via, 0);
        std::memcpy(list + 1, ids, sizeof(NodeId) * (std::size_t)count);
        list[0] = (uint32_t)count;
        return true;
    }

private:
    HnswGraph &g_;
};

std::size_t HnswGraph::ConnectOrphans() {
    if (size_ < 2 || entry_ == kNoNode) return 0;
    int max = MaxNeighbors(params_.m, 0);
    std::vector<uint16_t> in_degree(size_);
    std::vector<uint8_t> reached(size_);
    std::vector<NodeId> queue(size_), list(max), own(max + 1), rewritten(max);
    OrphanScratch scratch{in_degree.data(), reached.data(), queue.data(),
                          list.data(),      own.data(),     rewritten.data()};
    Level0Lists lists(*this);
    return ConnectUnreached(lists, max, scratch);
}

std::size_t HnswGraph::Search(const float *query, int k, int ef, std::vector<Candidate> &out,
                              NodeId exclude) const {
    out.clear();
    if (entry_ == kNoNode || k <= 0) return 0;
    std::vector<float> q(query, query + dim_);
    PrepareForMetric(metric_, q.data(), (std::size_t)dim_);
    Scratch s;
    View view(*this, q.data(), s.ids);
    NodeId start = entry_;
    if (start == exclude) {  // start from a neighbour of the excluded entry point
        std::vector<NodeId> list;
        ReadNeighbors(entry_, 0, list);
        if (list.empty()) return 0;
        start = list[0];
    }
    Candidate cur{DistanceTo(q.data(), start), start};
    for (int l = start == entry_ ? max_level_ : 0; l > 0; l--) {
        s.visited.Reset(size_);
        s.visited.Insert(cur.id);
        if (exclude != kNoNode) s.visited.Insert(exclude);
        GreedyClosest(view, s.visited, l, cur);
    }
    s.visited.Reset(size_);
    s.visited.Insert(cur.id);
    if (exclude != kNoNode) s.visited.Insert(exclude);
    s.entries.assign(1, cur);
    SearchLayer(view, s.visited, s.entries, std::max(ef, k), 0, s.results, s.candidates);
    std::sort(s.results.begin(), s.results.end(), Closer);
    if ((int)s.results.size() > k) s.results.resize(k);
    out = s.results;
    return view.distances();
}

}  // namespace gigavector
