// HNSW: reconnecting the nodes the entry point no longer reaches on level 0.
//
// Shrinking lists on back-links (and, in an index, deleting nodes) can leave
// a node without an in-link, or a small group that only links among itself:
// no search can find those rows. After CREATE INDEX links its graph, and
// after VACUUM repairs one, ConnectUnreached walks level 0 from the entry
// point and gives every live node it did not reach an in-link from a reached
// neighbour of its own (nearest first), else from the entry point: in a
// free place of that list, or instead of its farthest member that keeps
// another in-link from a reached node (the member goes into the new node's
// own list when it has room). Each node linked is walked from in turn, so a
// group becomes reachable through one link; passes repeat while a
// replacement may have cut something off.
//
// The store provides (template parameter Lists):
//   NodeId NodeCount();                       // ids 0 .. NodeCount()-1
//   NodeId Entry();                      // kNoNode when there is none
//   bool Live(NodeId id);                // a graph node that must be reachable
//   int Read(NodeId id, NodeId *out);    // its level-0 list (at most max ids)
//   // Writes via's level-0 list as ids[0..count), if it still reads as
//   // `before[0..before_count)` (a concurrent insert may have changed it;
//   // then it writes nothing and returns false).
//   bool Write(NodeId via, const NodeId *before, int before_count, const NodeId *ids, int count);
// and the scratch memory (OrphanScratch), so nothing here allocates: the
// Postgres VACUUM calls this with palloc'd arrays and a store that reads and
// writes pages (and may raise an ERROR; nothing here has a destructor).
#pragma once

#include <cstddef>
#include <cstdint>

#include "gigavector/ann/candidate.h"

namespace gigavector {

struct OrphanScratch {
    uint16_t *in_degree;  // NodeCount() entries
    uint8_t *reached;     // NodeCount() entries
    NodeId *queue;        // NodeCount() entries
    NodeId *list;         // max entries
    NodeId *own;          // max + 1 entries
    NodeId *rewritten;    // max entries
};

// Where in a full or partly full level-0 list an orphan's in-link goes: the
// first free place, else the farthest member (lists are in ascending
// distance) that keeps another in-link; -1 when no member can give way.
inline int ChooseOrphanPlace(const NodeId *list, int count, int max_neighbors,
                             const uint16_t *in_degree, NodeId size) noexcept {
    if (count < max_neighbors) return count;
    for (int j = count - 1; j >= 0; j--)
        if (list[j] < size && in_degree[list[j]] >= 2) return j;
    return -1;
}

// Marks reached[id] = 1 for every live node that `start` reaches over
// level-0 links through live nodes (breadth first; reached[] must be 0 where
// not yet reached), and returns how many it marked. `queue` has NodeCount()
// entries, `list` max_neighbors. ConnectUnreached walks with it; the
// structural check reports the live nodes it leaves unmarked.
template <class Lists>
NodeId MarkReached(Lists &lists, NodeId start, uint8_t *reached, NodeId *queue, NodeId *list) {
    const NodeId n = lists.NodeCount();
    if (start >= n || reached[start]) return 0;
    NodeId head = 0, tail = 0;
    reached[start] = 1;
    queue[tail++] = start;
    while (head < tail) {
        int k = lists.Read(queue[head++], list);
        for (int i = 0; i < k; i++) {
            NodeId nb = list[i];
            if (nb < n && !reached[nb] && lists.Live(nb)) {
                reached[nb] = 1;
                queue[tail++] = nb;
            }
        }
    }
    return tail;
}

// One pass of ConnectUnreached: walks from the entry point, counts in-links
// from the nodes it reached (an in-link from a node that is itself cut off
// keeps nothing reachable), and links each live node left unreached.
// *again: the pass replaced a member (which may have been the only way to
// it and its descendants) or left a node unlinked after linking others, so
// another pass may find or fix more.
template <class Lists>
std::size_t ConnectUnreachedPass(Lists &lists, int max_neighbors, OrphanScratch &s, bool *again) {
    const NodeId n = lists.NodeCount();
    const NodeId entry = lists.Entry();
    *again = false;
    NodeId live = 0;
    for (NodeId i = 0; i < n; i++) {
        s.in_degree[i] = 0;
        s.reached[i] = 0;
        live += lists.Live(i) ? 1 : 0;
    }
    if (MarkReached(lists, entry, s.reached, s.queue, s.list) == live) return 0;
    for (NodeId id = 0; id < n; id++) {
        if (!s.reached[id]) continue;  // (MarkReached marks live nodes only)
        int k = lists.Read(id, s.list);
        for (int i = 0; i < k; i++)
            if (s.list[i] < n && s.in_degree[s.list[i]] < UINT16_MAX) s.in_degree[s.list[i]]++;
    }
    std::size_t connected = 0;
    bool replaced_any = false, unlinked_any = false;
    for (NodeId id = 0; id < n; id++) {
        if (s.reached[id] || !lists.Live(id)) continue;
        int own_count = lists.Read(id, s.own);
        int own = own_count;
        s.own[own++] = entry;  // the entry point last
        bool linked = false;
        for (int i = 0; i < own && !linked; i++) {
            NodeId via = s.own[i];
            if (via >= n || via == id || !s.reached[via] || !lists.Live(via)) continue;
            int k = lists.Read(via, s.list);
            // a concurrent insert may have linked the node from `via` since
            // the walk: then it is reached, and a place chosen in that list
            // could be its own (handing it to itself would make a self-link:
            // seen in TAP 004, pgbench inserts with VACUUM)
            bool present = false;
            for (int j = 0; j < k; j++) present |= s.list[j] == id;
            if (present) {
                linked = true;
                break;
            }
            int place = ChooseOrphanPlace(s.list, k, max_neighbors, s.in_degree, n);
            if (place < 0) continue;
            for (int j = 0; j < k; j++) s.rewritten[j] = s.list[j];
            NodeId replaced = place < k ? s.list[place] : kNoNode;
            s.rewritten[place] = id;
            int count = place < k ? k : k + 1;
            if (!lists.Write(via, s.list, k, s.rewritten, count)) continue;
            linked = true;
            if (s.in_degree[id] < UINT16_MAX) s.in_degree[id]++;
            if (replaced == kNoNode || replaced >= n || replaced == id) continue;
            // the member given way stays reachable through the node that took
            // its place, when that node's own list has room for it (or has it)
            bool handed = false;
            for (int j = 0; j < own_count && !handed; j++) handed = s.own[j] == replaced;
            if (!handed && own_count < max_neighbors) {
                for (int j = 0; j < own_count; j++) s.rewritten[j] = s.own[j];
                s.rewritten[own_count] = replaced;
                handed = lists.Write(id, s.own, own_count, s.rewritten, own_count + 1);
            }
            if (!handed) {
                s.in_degree[replaced]--;
                replaced_any = true;
            }
        }
        if (linked) {
            connected++;
            MarkReached(lists, id, s.reached, s.queue, s.list);
        } else {
            unlinked_any = true;
        }
    }
    *again = replaced_any || (unlinked_any && connected > 0);
    return connected;
}

// Passes of ConnectUnreachedPass until one finds every live node reached or
// can do no more (at most kMaxConnectPasses: each pass after the first only
// undoes what a replacement of the one before cut off). A replaced member
// counted two in-links from reached nodes, but the other one may come from
// a node reached only through it: a single pass left 1 to 2 of 6000 nodes
// unreachable after VACUUM on inner-product data of varied norms (TAP 003).
// Returns how many unreached nodes it linked.
constexpr int kMaxConnectPasses = 8;

template <class Lists>
std::size_t ConnectUnreached(Lists &lists, int max_neighbors, OrphanScratch &s) {
    const NodeId n = lists.NodeCount();
    const NodeId entry = lists.Entry();
    if (n == 0 || entry == kNoNode || entry >= n) return 0;
    std::size_t connected = 0;
    bool again = true;
    for (int pass = 0; pass < kMaxConnectPasses && again; pass++)
        connected += ConnectUnreachedPass(lists, max_neighbors, s, &again);
    return connected;
}

}  // namespace gigavector
