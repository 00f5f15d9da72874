// gv_ivfpq inspection: gigavector.ivfpq_stats (options in effect, entries,
// list balance and drift since the build) and gigavector.ivfpq_check (a
// structural check on copies of the blocks: it reports damage as rows and
// never raises it, never loops).
#include "common/index_provider.h"
#include "ivfpq/ivfpq_am.h"

#include <cmath>

extern "C" {
#include "access/htup_details.h"
#include "access/relation.h"
#include "funcapi.h"
#include "utils/builtins.h"

PG_FUNCTION_INFO_V1(gv_ivfpq_stats);
PG_FUNCTION_INFO_V1(gv_ivfpq_check);
}

namespace {

// What ivfpq_stats, index_facts and index_info show, from one pass over
// every list.
struct IvfSummary {
    IvfMeta meta;  // as on the meta page now
    double live, dead, packed, tail, zero;
    double min_list, max_list, imbalance;
    double residual_growth;  // NaN: nothing to compare
    BlockNumber nblocks;
    StringInfoData derived;  // the options CREATE INDEX derived, comma-separated
};

void Summarize(Relation index, IvfSummary *out) {
    const IvfState *st = ivfpq_state(index);
    IvfMeta &meta = out->meta;
    ivfpq_read_meta(index, &meta);
    const IvfGeometry &g = st->geo;
    BlockNumber nblocks = RelationGetNumberOfBlocks(index);
    double live = 0, dead = 0, packed = 0, tail = 0, zero = 0;
    double min_list = INFINITY, max_list = 0, sum_sq = 0;
    double built_res = 0, built_n = 0, new_res = 0, new_n = 0;
    float *decoded = (float *)palloc(sizeof(float) * st->meta.dim);
    uint8 *codes = (uint8 *)palloc(g.m);
    // the residual norms are a mean: every stride-th entry of a list gives
    // it (about kResidualSample of the built ones), so the views stay cheap
    // on large indexes
    constexpr double kResidualSample = 20000;
    const int64 stride = std::max<int64>(1, (int64)(meta.built_rows / kResidualSample));
    for (int l = 0; l <= st->meta.lists; l++) {
        IvfListDir d = ivfpq_read_dir(index, st, l);
        double in_list = 0, position = 0;
        ivfpq_walk_list(index, st, l, BUFFER_LOCK_SHARE, &nblocks, NULL, [&](Buffer buf) {
            Page page = BufferGetPage(buf);
            const IvfListPage *h = IvfListPageOf(page);
            for (int slot = 0; slot < h->packed + h->tail; slot++, position++) {
                ItemPointerData tid;
                memcpy(&tid, IvfEntryRef(page, g, slot), sizeof(tid));
                if (!ItemPointerIsValid(&tid)) {
                    dead++;
                    continue;
                }
                live++;
                in_list++;
                if (l == st->meta.lists) {
                    zero++;
                    continue;
                }
                if (slot < h->packed)
                    packed++;
                else
                    tail++;
                if ((int64)position % stride != 0) continue;
                if (slot < h->packed) {
                    const uint8 *blk = (const uint8 *)page + g.BlockOffset(slot / 32);
                    for (int j = 0; j < g.m; j++)
                        codes[j] = gigavector::FastScanCode(blk, slot % 32, j);
                } else {
                    memcpy(codes, IvfTailCodes(page, g, slot - h->packed), g.m);
                }
                // the residual the code stands for: its squared norm tells
                // how far rows lie from their list's centroid
                gigavector::DecodePq(st->model.pq, st->codebook, codes, decoded);
                double r = 0;
                for (int i = 0; i < st->meta.dim; i++) r += (double)decoded[i] * decoded[i];
                if (position < d.built) {
                    built_res += r;
                    built_n++;
                } else {
                    new_res += r;
                    new_n++;
                }
            }
        });
        if (l < st->meta.lists) {
            min_list = std::min(min_list, in_list);
            max_list = std::max(max_list, in_list);
            sum_sq += in_list * in_list;
        }
    }
    double lists = st->meta.lists;
    double mean = (live - zero) / lists;
    double stddev = std::sqrt(std::max(0.0, sum_sq / lists - mean * mean));
    const char *derived_names[] = {"lists", "subvectors", "bits", "probes", "rerank_candidates"};
    initStringInfo(&out->derived);
    for (int i = 0; i < 5; i++)
        if (meta.derived & (1u << i))
            appendStringInfo(&out->derived, "%s%s", out->derived.len ? "," : "", derived_names[i]);
    out->live = live;
    out->dead = dead;
    out->packed = packed;
    out->tail = tail;
    out->zero = zero;
    out->min_list = min_list == INFINITY ? 0 : min_list;
    out->max_list = max_list;
    // imbalance: the lists' spread, stddev / mean of their sizes (0: even)
    out->imbalance = mean > 0 ? stddev / mean : 0;
    // drift: mean squared residual of the entries added since the build
    // against those of the build (1: as well placed; grows as data drifts)
    bool no_drift = !(built_n > 0 && new_n > 0 && built_res > 0);
    out->residual_growth = no_drift ? NAN : (new_res / new_n) / (built_res / built_n);
    out->nblocks = nblocks;
    pfree(decoded);
    pfree(codes);
}

// Residual growth above which the lists no longer fit the data (the
// health view asks for a REINDEX), once enough rows came after the build.
constexpr double kIvfDriftLimit = 1.5;

bool IsDerived(const IvfSummary &s, const char *name) {
    return strstr(s.derived.data, name) != NULL;
}

// The provider's facts.
void IvfProviderFacts(Relation index, GvIndexFacts *f) {
    IvfSummary s;
    Summarize(index, &s);
    const IvfState *st = ivfpq_state(index);
    const IvfMeta &m = s.meta;
    f->dimensions = m.dim;
    f->live_entries = (int64)s.live;
    f->dead_entries = (int64)s.dead;
    appendStringInfo(&f->options, "lists=%d%s, subvectors=%d%s, bits=%d%s, rerank=%s, ", m.lists,
                     IsDerived(s, "lists") ? " (derived)" : "", m.subvectors,
                     IsDerived(s, "subvectors") ? " (derived)" : "", m.bits,
                     IsDerived(s, "bits") ? " (derived)" : "",
                     m.rerank == kIvfRerankIndex ? "index" : "heap");
    appendStringInfo(&f->options, "probes=%d%s, rerank_candidates=%d%s", ivfpq_probes(index, st),
                     gv_ivfpq_probes > 0                ? " (gigavector.ivfpq_probes)"
                     : ivfpq_options(index)->probes > 0 ? ""
                                                        : " (derived)",
                     ivfpq_rerank_candidates(index, st),
                     gv_ivfpq_rerank_candidates > 0 ? " (gigavector.ivfpq_rerank_candidates)"
                     : ivfpq_options(index)->rerank_candidates > 0 ? ""
                                                                   : " (derived)");
    double added = s.live - m.built_rows;
    if (!std::isnan(s.residual_growth) && s.residual_growth > kIvfDriftLimit &&
        added > 0.1 * std::max(1.0, (double)m.built_rows)) {
        f->status = "degraded";
        f->reason = psprintf(
            "IVF lists drifted: rows added since the build lie %.2fx farther "
            "from their centroids than the built ones",
            s.residual_growth);
        f->action = "REINDEX INDEX";
    }
}

// The provider's structural facts.
void IvfProviderInfo(Relation index, GvInfoRows *rows) {
    IvfSummary s;
    Summarize(index, &s);
    const IvfMeta &m = s.meta;
    const IvfState *st = ivfpq_state(index);
    gv_info(rows, "dimensions", "%d", m.dim);
    gv_info(rows, "lists", "%d", m.lists);
    gv_info(rows, "codebook", "%d subvectors x %d centroids (%d bits), %d bytes per code",
            m.subvectors, 1 << m.bits, m.bits, (m.subvectors * m.bits + 7) / 8);
    gv_info(rows, "rerank", "%s", m.rerank == kIvfRerankIndex ? "index" : "heap");
    gv_info(rows, "derived_options", "%s", s.derived.len ? s.derived.data : "none");
    gv_info(rows, "probes", "%d", ivfpq_probes(index, st));
    gv_info(rows, "rerank_candidates", "%d", ivfpq_rerank_candidates(index, st));
    gv_info(rows, "live_entries", "%.0f", s.live);
    gv_info(rows, "dead_entries", "%.0f", s.dead);
    gv_info(rows, "zero_vectors", "%.0f", s.zero);
    double mean = m.lists > 0 ? (s.live - s.zero) / m.lists : 0;
    gv_info(rows, "list_size", "min %.0f, mean %.1f, max %.0f", s.min_list, mean, s.max_list);
    gv_info(rows, "list_imbalance", "%.3f", s.imbalance);
    gv_info(rows, "tail_share", "%.1f%%",
            s.live - s.zero > 0 ? 100.0 * s.tail / (s.live - s.zero) : 0.0);
    if (std::isnan(s.residual_growth))
        gv_info(rows, "residual_growth", "none (no rows added since the build)");
    else
        gv_info(rows, "residual_growth", "%.3f", s.residual_growth);
    gv_info(rows, "built_rows", "%.0f", (double)m.built_rows);
    if (m.calibration_recall > 0)
        gv_info(rows, "calibration_recall", "%.3f", (double)m.calibration_recall);
    else
        gv_info(rows, "calibration_recall", "none (probes and rerank_candidates were options)");
}

}  // namespace

// gigavector.ivfpq_stats(index): one row.
extern "C" Datum gv_ivfpq_stats(PG_FUNCTION_ARGS) {
    Oid indexoid = PG_GETARG_OID(0);
    TupleDesc tupdesc;
    if (get_call_result_type(fcinfo, NULL, &tupdesc) != TYPEFUNC_COMPOSITE)
        ereport(ERROR, (errcode(ERRCODE_FEATURE_NOT_SUPPORTED),
                        errmsg("ivfpq_stats must be called in a context that accepts a record"),
                        errhint("Use SELECT * FROM gigavector.ivfpq_stats(...).")));
    Relation index = gv_open_index_for_inspection(indexoid, "gv_ivfpq");
    const IvfState *st = ivfpq_state(index);
    IvfSummary s;
    Summarize(index, &s);
    const IvfMeta &meta = s.meta;
    Datum values[22];
    bool nulls[22] = {false};
    int i = 0;
    values[i++] = Int32GetDatum(meta.dim);
    values[i++] = Int32GetDatum(meta.lists);
    values[i++] = Int32GetDatum(meta.subvectors);
    values[i++] = Int32GetDatum(meta.bits);
    values[i++] = CStringGetTextDatum(meta.rerank == kIvfRerankIndex ? "index" : "heap");
    values[i++] = Int32GetDatum(ivfpq_probes(index, st));
    values[i++] = Int32GetDatum(ivfpq_rerank_candidates(index, st));
    values[i++] = CStringGetTextDatum(s.derived.data);
    values[i++] = BoolGetDatum(meta.exact != 0);
    values[i++] = Float8GetDatum(meta.built_rows);
    values[i++] = Float8GetDatum(meta.trained_rows);
    nulls[i] = meta.calibration_recall <= 0;
    values[i++] = Float8GetDatum(meta.calibration_recall);
    values[i++] = Int64GetDatum((int64)s.live);
    values[i++] = Int64GetDatum((int64)s.dead);
    values[i++] = Int64GetDatum((int64)s.packed);
    values[i++] = Int64GetDatum((int64)s.tail);
    values[i++] = Int64GetDatum((int64)s.zero);
    values[i++] = Float8GetDatum(s.min_list);
    values[i++] = Float8GetDatum(s.max_list);
    values[i++] = Float8GetDatum(s.imbalance);
    nulls[i] = std::isnan(s.residual_growth);
    values[i] = Float8GetDatum(nulls[i] ? 0 : s.residual_growth);
    i++;
    values[i++] = Int64GetDatum((int64)s.nblocks);
    relation_close(index, AccessShareLock);
    PG_RETURN_DATUM(HeapTupleGetDatum(heap_form_tuple(BlessTupleDesc(tupdesc), values, nulls)));
}

namespace {

struct Check {
    Relation index;
    BlockNumber nblocks;
    GvProblems problems;
    char *page;
};

void IvfCheckIndex(Check *c);

bool Copy(Check *c, BlockNumber block) {
    return gv_copy_block(c->index, block, c->nblocks, c->page, &c->problems);
}

// Checks a stream of pages of a type; floats must be finite.
void CheckStream(Check *c, BlockNumber first, size_t bytes, uint16 type, const char *what) {
    size_t usable = (size_t)GvPageUsableBytes();
    size_t pages = (bytes + usable - 1) / usable;
    for (size_t p = 0; p < pages; p++) {
        BlockNumber block = first + (BlockNumber)p;
        if (block >= c->nblocks) {
            gv_problem(&c->problems, "%s: block %u is past the end of the index", what, block);
            return;
        }
        if (!Copy(c, block)) continue;
        const char *problem = gv_page_problem((Page)c->page, type);
        if (problem != NULL) {
            gv_problem(&c->problems, "%s block %u: %s", what, block, problem);
            continue;
        }
        size_t chunk = std::min(usable, bytes - p * usable);
        const float *f = (const float *)(c->page + GvPageDataOffset());
        for (size_t i = 0; i < chunk / sizeof(float); i++)
            if (!std::isfinite(f[i])) {
                gv_problem(&c->problems, "%s block %u: a value is not finite", what, block);
                break;
            }
    }
}

}  // namespace

namespace {

// The structural check on copies of the blocks (see the top of this file);
// collects the heap TIDs of live entries in problems->entries.
void IvfProviderCheck(Relation index, GvProblems *problems) {
    Check *c = (Check *)palloc0(sizeof(Check));
    c->problems = *problems;
    c->index = index;
    IvfCheckIndex(c);
    *problems = c->problems;
}

// One series per re-rank candidate count (2k .. 100k, at most the
// index's maximum), probes rising about 1.4x within it up to every list.
void IvfTuneCandidates(Relation index, int k, GvInfoRows *rows) {
    const IvfState *st = ivfpq_state(index);
    const int factors[] = {2, 5, 10, 20, 50, 100};
    int series = 0;
    for (int f : factors) {
        int cand = std::min(k * f, (int)kIvfMaxRerank);
        for (double probes = 1;; probes = std::ceil(probes * 1.4)) {
            int p = std::min((int)probes, st->meta.lists);
            char gucs[128], reloptions[128];
            snprintf(gucs, sizeof(gucs),
                     "gigavector.ivfpq_probes=%d,gigavector.ivfpq_rerank_candidates=%d", p, cand);
            snprintf(reloptions, sizeof(reloptions), "probes = %d, rerank_candidates = %d", p,
                     cand);
            gv_tune_candidate(rows, series, gucs, reloptions);
            if (p >= st->meta.lists || p >= kIvfMaxProbes) break;
        }
        series++;
        if (cand >= kIvfMaxRerank) break;
    }
}

const GvAmProvider kIvfProvider = {"gv_ivfpq", IvfProviderFacts, IvfProviderInfo, IvfProviderCheck,
                                   IvfTuneCandidates};

}  // namespace

void ivfpq_register_provider(void) {
    gv_register_am_provider(&kIvfProvider);
}

// gigavector.ivfpq_check(index): the structural check alone (index_check
// adds the table's side); one row per problem, none when sound.
extern "C" Datum gv_ivfpq_check(PG_FUNCTION_ARGS) {
    return gv_check_one_method(fcinfo, "gv_ivfpq");
}

namespace {

void IvfCheckIndex(Check *c) {
    c->nblocks = RelationGetNumberOfBlocks(c->index);
    c->page = (char *)palloc(BLCKSZ);
    if (!c->index->rd_index->indisvalid)
        gv_problem(&c->problems,
                   "the index is not valid: a CONCURRENTLY build failed; drop it "
                   "or REINDEX INDEX it");
    if (c->nblocks == 0 || !Copy(c, 0)) {
        if (c->nblocks == 0) gv_problem(&c->problems, "the index has no blocks");
        return;
    }
    const char *problem = gv_page_problem((Page)c->page, kIvfPageMeta);
    IvfMeta m;
    memcpy(&m, c->page + GvPageDataOffset(), sizeof(m));
    if (problem == NULL && (m.magic != kIvfMagic || m.version != kIvfVersion))
        problem = "magic or version is wrong";
    if (problem == NULL && (m.dim < 1 || m.dim > kIvfMaxDimensions || m.lists < 1 ||
                            m.lists > kIvfMaxLists || m.subvectors < 1 || m.subvectors > m.dim ||
                            (m.bits != 4 && m.bits != 8) || m.metric > 3 || m.rerank > 1))
        problem = "a field is out of range";
    if (problem != NULL) {
        gv_problem(&c->problems, "meta page: %s", problem);
        return;
    }
    IvfGeometry g = ivfpq_geometry(m.dim, m.subvectors, m.bits, m.rerank == kIvfRerankIndex);
    CheckStream(c, m.centroid_block, sizeof(float) * (size_t)m.lists * m.dim, kIvfPageCentroids,
                "centroids");
    CheckStream(c, m.codebook_block, sizeof(float) * (size_t)(1 << m.bits) * m.dim,
                kIvfPageCodebook, "codebook");
    // the directory, then every chain
    const int per = GvPageUsableBytes() / (int)sizeof(IvfListDir);
    int entries = m.lists + 1;
    IvfListDir *dir = (IvfListDir *)palloc0(sizeof(IvfListDir) * entries);
    for (int l = 0; l < entries; l++) dir[l].head = dir[l].tail = InvalidBlockNumber;
    for (uint32 p = 0; p < m.directory_pages; p++) {
        BlockNumber block = m.directory_block + p;
        if (block >= c->nblocks || !Copy(c, block)) continue;
        if ((problem = gv_page_problem((Page)c->page, kIvfPageDirectory)) != NULL) {
            gv_problem(&c->problems, "directory block %u: %s", block, problem);
            continue;
        }
        for (int i = 0; i < per && (int)p * per + i < entries; i++)
            memcpy(&dir[p * per + i], c->page + GvPageDataOffset() + i * sizeof(IvfListDir),
                   sizeof(IvfListDir));
    }
    uint8 *seen = (uint8 *)palloc0(c->nblocks + 1);
    for (int l = 0; l < entries; l++) {
        BlockNumber block = dir[l].head, last = InvalidBlockNumber;
        if ((dir[l].head == InvalidBlockNumber) != (dir[l].tail == InvalidBlockNumber)) {
            gv_problem(&c->problems, "list %d: head and tail disagree on emptiness", l);
            continue;
        }
        while (block != InvalidBlockNumber) {
            if (block >= c->nblocks) {
                gv_problem(&c->problems, "list %d: chain points to block %u, past the end", l,
                           block);
                break;
            }
            if (seen[block]) {
                gv_problem(&c->problems,
                           "list %d: block %u is reached twice (a loop or a "
                           "shared page)",
                           l, block);
                break;
            }
            seen[block] = 1;
            if (!Copy(c, block)) break;
            if ((problem = gv_page_problem((Page)c->page, kIvfPageList)) != NULL) {
                gv_problem(&c->problems, "list %d block %u: %s", l, block, problem);
                break;
            }
            const IvfListPage *h = IvfListPageOf((Page)c->page);
            uint32 group = ((GvPageOpaque *)PageGetSpecialPointer((Page)c->page))->group;
            if (group != (uint32)l || h->packed > h->blocks * 32 ||
                (h->blocks > 0 && h->packed <= (h->blocks - 1) * 32) ||
                (m.bits == 8 && h->blocks > 0) || h->blocks * g.block_stride > g.room ||
                h->tail > g.TailCapacity(h->blocks)) {
                gv_problem(&c->problems, "list %d block %u: the page's header is inconsistent", l,
                           block);
                break;
            }
            for (int slot = 0; slot < h->packed + h->tail; slot++) {
                ItemPointerData tid;
                memcpy(&tid, IvfEntryRef((Page)c->page, g, slot), sizeof(tid));
                if (ItemPointerIsValid(&tid)) gv_problem_entry(&c->problems, &tid);
            }
            for (int t = 0; t < h->tail && m.bits == 4; t++) {
                const uint8 *code =
                    (const uint8 *)c->page + g.TailOffset(h->blocks, t) + g.ref_bytes;
                for (int j = 0; j < g.m; j++)
                    if (code[j] > 15) {
                        gv_problem(&c->problems, "list %d block %u: entry %d has a code above 15",
                                   l, block, h->packed + t);
                        j = g.m;
                        t = h->tail;
                    }
            }
            last = block;
            block = h->next;
        }
        if (block == InvalidBlockNumber && last != dir[l].tail)
            gv_problem(&c->problems,
                       "list %d: the directory's tail %u is not the chain's last "
                       "page %u",
                       l, dir[l].tail, last);
    }
}

}  // namespace
