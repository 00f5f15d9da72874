// Shared-memory counters of the indexes (index_counters.h).
#include "common/index_counters.h"

#include <algorithm>
#include <cmath>

#include "common/index_provider.h"
#include "gigavector/ann/latency_histogram.h"
#include "common/pg_vec.h"

extern "C" {
#include "access/htup_details.h"
#include "catalog/index.h"
#include "common/pg_prng.h"
#include "funcapi.h"
#include "storage/ipc.h"
#include "storage/lwlock.h"
#include "storage/shmem.h"
#include "storage/spin.h"
#include "utils/acl.h"
#include "utils/hsearch.h"
#include "utils/syscache.h"
#include "catalog/pg_class.h"
#include "utils/timestamp.h"
#include "utils/tuplestore.h"

PG_FUNCTION_INFO_V1(gv_index_counters);
PG_FUNCTION_INFO_V1(gv_counters_reset);
PG_FUNCTION_INFO_V1(gv_take_query_samples);
PG_FUNCTION_INFO_V1(gv_counters_available_sql);
}

#include "type/gvector.h"

namespace {

constexpr int kRecentSeconds = 60;  // the window of recent_qps
// The sample ring: slots of at most kSampleMaxDim floats (wider queries are
// not sampled), handed out round robin.
constexpr int kSampleSlots = 128;
constexpr int kSampleMaxDim = 2048;

struct CounterKey {
    Oid db;
    Oid index;
};

struct CounterEntry {
    CounterKey key;
    slock_t mutex;  // the fields below
    int64 scans;
    int64 rows;
    int64 inserts;
    double total_ms;
    TimestampTz since;
    uint32 hist[gigavector::kLatencyBuckets];
    int64 second_stamp[kRecentSeconds];  // the Unix second a slot counts
    int32 second_scans[kRecentSeconds];
};

struct SampleSlot {
    CounterKey key;  // InvalidOid index: empty
    TimestampTz at;
    int32 dim;
    float v[kSampleMaxDim];
};

struct SharedState {
    LWLock *lock;  // the hash table's shape and the sample ring
    TimestampTz created;
    int64 dropped;  // counts lost because the table was full
    uint32 sample_next;
    SampleSlot samples[kSampleSlots];
};

SharedState *shared = NULL;
HTAB *entries = NULL;
int max_indexes = 1000;
double sampling_rate = 0.0;
int query_sample_limit = 1000;
shmem_request_hook_type prev_request = NULL;
shmem_startup_hook_type prev_startup = NULL;

Size SharedSize() {
    return add_size(MAXALIGN(sizeof(SharedState)),
                    hash_estimate_size(max_indexes, sizeof(CounterEntry)));
}

void RequestShmem(void) {
    if (prev_request) prev_request();
    RequestAddinShmemSpace(SharedSize());
    RequestNamedLWLockTranche("gigavector", 1);
}

void StartupShmem(void) {
    if (prev_startup) prev_startup();
    LWLockAcquire(AddinShmemInitLock, LW_EXCLUSIVE);
    bool found;
    shared = (SharedState *)ShmemInitStruct("gigavector counters", sizeof(SharedState), &found);
    if (!found) {
        memset(shared, 0, sizeof(SharedState));
        shared->lock = &(GetNamedLWLockTranche("gigavector"))->lock;
        shared->created = GetCurrentTimestamp();
    }
    HASHCTL info;
    memset(&info, 0, sizeof(info));
    info.keysize = sizeof(CounterKey);
    info.entrysize = sizeof(CounterEntry);
    entries = ShmemInitHash("gigavector counters by index", max_indexes, max_indexes, &info,
                            HASH_ELEM | HASH_BLOBS);
    LWLockRelease(AddinShmemInitLock);
}

// The entry of an index, created when missing; NULL when the table is full.
// Returns with shared->lock held in shared mode.
CounterEntry *EntryFor(Oid indexoid) {
    CounterKey key = {MyDatabaseId, indexoid};
    LWLockAcquire(shared->lock, LW_SHARED);
    CounterEntry *e = (CounterEntry *)hash_search(entries, &key, HASH_FIND, NULL);
    if (e != NULL) return e;
    LWLockRelease(shared->lock);
    LWLockAcquire(shared->lock, LW_EXCLUSIVE);
    bool found;
    e = (CounterEntry *)hash_search(entries, &key, HASH_ENTER_NULL, &found);
    if (e == NULL) {
        shared->dropped++;
    } else if (!found) {
        memset((char *)e + sizeof(CounterKey), 0, sizeof(CounterEntry) - sizeof(CounterKey));
        SpinLockInit(&e->mutex);
        e->since = GetCurrentTimestamp();
    }
    LWLockRelease(shared->lock);
    LWLockAcquire(shared->lock, LW_SHARED);
    // stats_reset may have removed it in between: look it up again
    return (CounterEntry *)hash_search(entries, &key, HASH_FIND, NULL);
}

int64 UnixSecond(TimestampTz t) {
    return (int64)(t / USECS_PER_SEC);
}

}  // namespace

void gv_counters_init(void) {
    DefineCustomRealVariable(
        "gigavector.query_sampling_rate",
        "Share of index scans whose query vector is kept for measure_recall(source => "
        "'sampled').",
        "0 (the default) keeps none. Needs shared_preload_libraries; the last 128 sampled "
        "queries (of up to 2048 dimensions) wait in shared memory until saved to "
        "gigavector.query_samples.",
        &sampling_rate, 0.0, 0.0, 1.0, PGC_SUSET, 0, NULL, NULL, NULL);
    DefineCustomRealVariable(
        "gigavector.target_recall", "Recall@k an index should reach (gigavector.health).",
        "An index whose last measured recall is below this (or below the target its last tune "
        "was given) is degraded.",
        &gv_target_recall, 0.95, 0.0, 1.0, PGC_USERSET, 0, NULL, NULL, NULL);
    DefineCustomIntVariable(
        "gigavector.health_max_index_size",
        "Index size above which gigavector.health calls an index degraded (0: no limit).", NULL,
        &gv_health_max_index_size_kb, 0, 0, INT_MAX, PGC_USERSET, GUC_UNIT_KB, NULL, NULL, NULL);
    DefineCustomIntVariable("gigavector.query_sample_limit",
                            "Sampled queries gigavector.query_samples keeps per index.",
                            "save_query_samples() deletes the oldest beyond this.",
                            &query_sample_limit, 1000, 1, 1000000, PGC_SUSET, 0, NULL, NULL, NULL);
    // a PGC_POSTMASTER setting can only be defined while preloading
    if (!process_shared_preload_libraries_in_progress) return;
    DefineCustomIntVariable(
        "gigavector.stats_max_indexes",
        "Indexes whose run-time counters shared memory holds (with shared_preload_libraries).",
        "Counters of indexes past this number are not kept; gigavector.index_stats shows the "
        "counts lost.",
        &max_indexes, 1000, 10, 100000, PGC_POSTMASTER, 0, NULL, NULL, NULL);
    prev_request = shmem_request_hook;
    shmem_request_hook = RequestShmem;
    prev_startup = shmem_startup_hook;
    shmem_startup_hook = StartupShmem;
}

double gv_target_recall = 0.95;
int gv_health_max_index_size_kb = 0;

bool gv_counters_available(void) {
    return shared != NULL && entries != NULL;
}

bool gv_counters_measuring = false;

void gv_counters_count_scan(Relation index, double elapsed_ms, int64 rows) {
    if (!gv_counters_available() || gv_counters_measuring) return;
    CounterEntry *e = EntryFor(RelationGetRelid(index));
    if (e != NULL) {
        int64 second = UnixSecond(GetCurrentTimestamp());
        int slot = (int)(second % kRecentSeconds);
        int bucket = gigavector::LatencyBucket(elapsed_ms);
        SpinLockAcquire(&e->mutex);
        e->scans++;
        e->rows += rows;
        e->total_ms += elapsed_ms;
        e->hist[bucket]++;
        if (e->second_stamp[slot] != second) {
            e->second_stamp[slot] = second;
            e->second_scans[slot] = 0;
        }
        e->second_scans[slot]++;
        SpinLockRelease(&e->mutex);
    }
    LWLockRelease(shared->lock);
}

void gv_counters_count_insert(Relation index) {
    if (!gv_counters_available()) return;
    CounterEntry *e = EntryFor(RelationGetRelid(index));
    if (e != NULL) {
        SpinLockAcquire(&e->mutex);
        e->inserts++;
        SpinLockRelease(&e->mutex);
    }
    LWLockRelease(shared->lock);
}

void gv_counters_offer_query(Relation index, Datum query) {
    if (!gv_counters_available() || sampling_rate <= 0.0 || gv_counters_measuring) return;
    if (pg_prng_double(&pg_global_prng_state) >= sampling_rate) return;
    GVector *v = DatumGetGvector(query);
    if (v->dim > kSampleMaxDim) return;
    LWLockAcquire(shared->lock, LW_EXCLUSIVE);
    SampleSlot *slot = &shared->samples[shared->sample_next++ % kSampleSlots];
    slot->key.db = MyDatabaseId;
    slot->key.index = RelationGetRelid(index);
    slot->at = GetCurrentTimestamp();
    slot->dim = v->dim;
    memcpy(slot->v, v->x, sizeof(float) * v->dim);
    LWLockRelease(shared->lock);
}

// Whether the user may see an index's counters: those of a table it may
// SELECT (what pg_stat_user_indexes shows is not hidden, but the query
// rate of another role's table is its business).
static bool MaySee(Oid indexoid) {
    Oid heap = IndexGetRelation(indexoid, true);
    return OidIsValid(heap) && pg_class_aclcheck(heap, GetUserId(), ACL_SELECT) == ACLCHECK_OK;
}

struct CounterRow {
    Oid index;
    int64 scans, rows, inserts, recent;
    double total_ms;
    TimestampTz since;
    uint32 hist[gigavector::kLatencyBuckets];
};

// gigavector.index_counters(): one row per index of this database whose
// table the user may SELECT: (indexrelid, scans, tuples_returned, inserts,
// mean_ms, p50_ms, p95_ms, p99_ms, recent_qps, stats_since, counts_lost).
// No rows without preloading.
extern "C" Datum gv_index_counters(PG_FUNCTION_ARGS) {
    InitMaterializedSRF(fcinfo, MAT_SRF_USE_EXPECTED_DESC);
    ReturnSetInfo *rsinfo = (ReturnSetInfo *)fcinfo->resultinfo;
    if (!gv_counters_available()) return (Datum)0;
    TimestampTz now = GetCurrentTimestamp();
    int64 now_second = UnixSecond(now);
    // room for every entry (the count read under the lock; entries made
    // in between wait for the next call)
    LWLockAcquire(shared->lock, LW_SHARED);
    long n = hash_get_num_entries(entries);
    LWLockRelease(shared->lock);
    PgVec<CounterRow> rows;
    rows.Init(CurrentMemoryContext, (int)n + 1);
    LWLockAcquire(shared->lock, LW_SHARED);
    int64 dropped = shared->dropped;
    HASH_SEQ_STATUS seq;
    hash_seq_init(&seq, entries);
    CounterEntry *e;
    while ((e = (CounterEntry *)hash_seq_search(&seq)) != NULL) {
        if (e->key.db != MyDatabaseId) continue;
        if (rows.size() == (size_t)rows.capacity) {
            hash_seq_term(&seq);
            break;
        }
        CounterRow &r = rows.items[rows.count++];
        r.index = e->key.index;
        r.recent = 0;
        SpinLockAcquire(&e->mutex);
        r.scans = e->scans;
        r.rows = e->rows;
        r.inserts = e->inserts;
        r.total_ms = e->total_ms;
        r.since = e->since;
        memcpy(r.hist, e->hist, sizeof(r.hist));
        for (int s = 0; s < kRecentSeconds; s++)
            if (e->second_stamp[s] > now_second - kRecentSeconds &&
                e->second_stamp[s] <= now_second)
                r.recent += e->second_scans[s];
        SpinLockRelease(&e->mutex);
    }
    LWLockRelease(shared->lock);
    // entries of indexes dropped since go (the table would fill up with them)
    PgVec<CounterKey> gone;
    gone.Init(CurrentMemoryContext, 8);
    for (const CounterRow &r : rows)
        if (!OidIsValid(IndexGetRelation(r.index, true))) {
            CounterKey key = {MyDatabaseId, r.index};
            gone.push_back(key);
        }
    if (!gone.empty()) {
        LWLockAcquire(shared->lock, LW_EXCLUSIVE);
        for (const CounterKey &k : gone) hash_search(entries, &k, HASH_REMOVE, NULL);
        LWLockRelease(shared->lock);
    }
    for (const CounterRow &r : rows) {
        if (!MaySee(r.index)) continue;
        // the window is the last minute, or the time since the counters began
        double window = std::min<double>(kRecentSeconds, (double)(now - r.since) / USECS_PER_SEC);
        if (window < 1) window = 1;
        Datum values[11];
        bool nulls[11] = {false};
        values[0] = ObjectIdGetDatum(r.index);
        values[1] = Int64GetDatum(r.scans);
        values[2] = Int64GetDatum(r.rows);
        values[3] = Int64GetDatum(r.inserts);
        values[4] = Float8GetDatum(r.scans > 0 ? r.total_ms / r.scans : 0);
        values[5] = Float8GetDatum(gigavector::LatencyQuantile(r.hist, r.scans, 0.50));
        values[6] = Float8GetDatum(gigavector::LatencyQuantile(r.hist, r.scans, 0.95));
        values[7] = Float8GetDatum(gigavector::LatencyQuantile(r.hist, r.scans, 0.99));
        nulls[4] = nulls[5] = nulls[6] = nulls[7] = r.scans == 0;
        values[8] = Float8GetDatum((double)r.recent / window);
        values[9] = TimestampTzGetDatum(r.since);
        values[10] = Int64GetDatum(dropped);
        tuplestore_putvalues(rsinfo->setResult, rsinfo->setDesc, values, nulls);
    }
    return (Datum)0;
}

// gigavector.stats_reset(index regclass default null): forgets the counters
// of one index (its table's owner only), or of every index of this database
// whose table the user owns (a superuser: all); returns the time.
extern "C" Datum gv_counters_reset(PG_FUNCTION_ARGS) {
    TimestampTz now = GetCurrentTimestamp();
    Oid only = PG_ARGISNULL(0) ? InvalidOid : PG_GETARG_OID(0);
    if (only != InvalidOid) {
        Oid heap = IndexGetRelation(only, true);
        HeapTuple tuple = SearchSysCache1(RELOID, ObjectIdGetDatum(only));
        Oid am = InvalidOid;
        if (HeapTupleIsValid(tuple)) {
            am = ((Form_pg_class)GETSTRUCT(tuple))->relam;
            ReleaseSysCache(tuple);
        }
        if (!OidIsValid(heap) || !gv_am_provider(am))
            ereport(ERROR, (errcode(ERRCODE_WRONG_OBJECT_TYPE),
                            errmsg("\"%s\" is not a gv_hnsw or gv_ivfpq index",
                                   get_rel_name(only) ? get_rel_name(only) : "?"),
                            errhint("Pass a GigaVector index, or NULL for all of yours.")));
        if (!pg_class_ownercheck(heap, GetUserId()))
            ereport(ERROR, (errcode(ERRCODE_INSUFFICIENT_PRIVILEGE),
                            errmsg("must be owner of table %s to reset its index's statistics",
                                   get_rel_name(heap)),
                            errhint("Ask the table's owner or a superuser.")));
    }
    if (!gv_counters_available()) PG_RETURN_TIMESTAMPTZ(now);
    PgVec<CounterKey> keys;
    keys.Init(CurrentMemoryContext, 64);
    if (only != InvalidOid) {
        CounterKey key = {MyDatabaseId, only};
        keys.push_back(key);
    } else {
        PgVec<CounterKey> all;
        all.Init(CurrentMemoryContext, max_indexes + 1);
        LWLockAcquire(shared->lock, LW_SHARED);
        HASH_SEQ_STATUS seq;
        hash_seq_init(&seq, entries);
        CounterEntry *e;
        while ((e = (CounterEntry *)hash_seq_search(&seq)) != NULL)
            if (e->key.db == MyDatabaseId && all.count < all.capacity)
                all.items[all.count++] = e->key;
        LWLockRelease(shared->lock);
        for (const CounterKey &k : all) {
            Oid heap = IndexGetRelation(k.index, true);
            if (superuser() || (OidIsValid(heap) && pg_class_ownercheck(heap, GetUserId())))
                keys.push_back(k);
        }
    }
    LWLockAcquire(shared->lock, LW_EXCLUSIVE);
    for (const CounterKey &k : keys) hash_search(entries, &k, HASH_REMOVE, NULL);
    if (only == InvalidOid && superuser()) shared->dropped = 0;
    LWLockRelease(shared->lock);
    PG_RETURN_TIMESTAMPTZ(now);
}

// gigavector.take_query_samples(): the sampled query vectors of this
// database's indexes (indexrelid, sampled_at, query), removed from the ring.
// Superuser only (the extension's save_query_samples() calls it).
extern "C" Datum gv_take_query_samples(PG_FUNCTION_ARGS) {
    InitMaterializedSRF(fcinfo, MAT_SRF_USE_EXPECTED_DESC);
    ReturnSetInfo *rsinfo = (ReturnSetInfo *)fcinfo->resultinfo;
    if (!gv_counters_available()) return (Datum)0;
    int n = 0;
    SampleSlot *copy = (SampleSlot *)palloc(sizeof(SampleSlot) * kSampleSlots);
    LWLockAcquire(shared->lock, LW_EXCLUSIVE);
    for (int i = 0; i < kSampleSlots; i++) {
        SampleSlot *slot = &shared->samples[i];
        if (slot->key.index == InvalidOid || slot->key.db != MyDatabaseId) continue;
        memcpy(&copy[n++], slot, offsetof(SampleSlot, v) + sizeof(float) * slot->dim);
        slot->key.index = InvalidOid;
    }
    LWLockRelease(shared->lock);
    for (int i = 0; i < n; i++) {
        Datum values[3];
        bool nulls[3] = {false};
        values[0] = ObjectIdGetDatum(copy[i].key.index);
        values[1] = TimestampTzGetDatum(copy[i].at);
        GVector *v = gv_new_vector(copy[i].dim);
        memcpy(v->x, copy[i].v, sizeof(float) * copy[i].dim);
        values[2] = PointerGetDatum(v);
        tuplestore_putvalues(rsinfo->setResult, rsinfo->setDesc, values, nulls);
    }
    return (Datum)0;
}

// gigavector.counters_available()
extern "C" Datum gv_counters_available_sql(PG_FUNCTION_ARGS) {
    (void)fcinfo;
    PG_RETURN_BOOL(gv_counters_available());
}
