# GigaVector: PGXS build (make, make install, make installcheck).
# The sources are listed once, in sources.list, which CMakeLists.txt reads too.

EXTENSION = gigavector
MODULE_big = gigavector
DATA = $(wildcard sql/gigavector--*.sql)

CORE_SRCS = $(shell awk '$$1 == "core" { print $$2 }' sources.list)
PG_SRCS = $(shell awk '$$1 == "pg" { print $$2 }' sources.list)
OBJS = $(CORE_SRCS:.cpp=.o) $(PG_SRCS:.cpp=.o)

# pg_regress tests: sql/<name>.sql against expected/<name>.out
REGRESS = gvector_type gvector_functions gvector_errors gvector_hostile gvector_simd hnsw_basic \
          hnsw_storage hnsw_hostile hnsw_plans ivfpq_basic ops_views
REGRESS_OPTS = --inputdir=.

PG_CONFIG ?= pg_config
PGXS := $(shell $(PG_CONFIG) --pgxs)
SERVER_INCLUDE := $(shell $(PG_CONFIG) --includedir-server)

# No LLVM bitcode for JIT inlining: it would need the matching clang, and our
# hot loops are C++ kernels the JIT would not inline anyway.
override with_llvm = no

# Track header dependencies (.deps/*.Po) so a header change rebuilds every
# object that includes it; Debian's PGXS leaves this off.
override autodepend = yes

# Postgres and Eigen (Debian libeigen3-dev: k-means, src/core/ivf) headers are
# included as system headers so -Wextra -Werror applies to our code only.
PG_CPPFLAGS = -Iinclude -Isrc/pg -isystem $(SERVER_INCLUDE) -isystem /usr/include/eigen3
PG_CXXFLAGS = -std=c++17 -O3 -Wall -Wextra -Werror
SHLIB_LINK = -lstdc++ -lm -lcurl

include $(PGXS)


.PHONY: format
format:
	clang-format -i $(CORE_SRCS) $(PG_SRCS) $(wildcard include/gigavector/*/*.h src/core/*/*.h \
	    src/pg/*/*.h) test/unit/*.cpp bench/micro/*.cpp
