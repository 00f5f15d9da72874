// What every GigaVector index access method needs from its operator class
// and its column: the metric (operator class support function 2), the
// indexed dimension count, and vectors prepared for the metric.
//
// Operator classes of every access method have the same two support
// functions: 1 the operator's distance function, 2 the metric as int4.
#pragma once

#include "common/cpp_boundary.h"
#include "gigavector/ann/metric.h"

constexpr int kGvDistanceProc = 1;
constexpr int kGvMetricProc = 2;

// The metric of the index's operator class.
gigavector::Metric gv_index_metric(Relation index);

// The dimension count of the indexed gvector(n) column or expression;
// ERRORs without (n), with a hint that fits which of the two it is.
int gv_indexed_dimensions(Relation index);

// Converts a datum (gvector) to a prepared float copy in out[0..dim): ERRORs
// on a dimension mismatch (naming the index's access method) or a
// non-finite element. Returns false if the vector has no place in the index
// (cosine of a zero vector).
bool gv_prepare_vector(Relation index, Datum value, int dim, gigavector::Metric metric, float *out);
