# durable: durable execution inside PostgreSQL (PGXS build)
#
#   make && make install        build and install the extension
#   make installcheck           pg_regress + isolation suites on a temporary
#                               instance that preloads durable
#                               and TAP tests (PostgreSQL::Test::Cluster)
#   test/run-all                everything, as CI runs it (see README)

EXTENSION = durable
MODULE_big = durable
OBJS = \
	src/durable.o \
	src/shmem.o \
	src/launcher.o \
	src/engine.o \
	src/wakeup.o \
	src/query.o \
	src/util.o

DATA = $(wildcard src/durable--*.sql)
PGFILEDESC = "durable - durable execution inside PostgreSQL"

PG_CPPFLAGS = -I$(srcdir)/src
PG_CFLAGS = -Wall -Wmissing-prototypes -Wpointer-arith -Wendif-labels

REGRESS = $(patsubst sql/%.sql,%,$(sort $(wildcard sql/*.sql)))
REGRESS_OPTS = --temp-instance=tmp_check --temp-config=$(srcdir)/test/durable.conf

ISOLATION = $(patsubst test/isolation/specs/%.spec,%,$(sort $(wildcard test/isolation/specs/*.spec)))
ISOLATION_OPTS = --temp-instance=tmp_check_iso --temp-config=$(srcdir)/test/durable.conf \
	--inputdir=$(srcdir)/test/isolation --outputdir=output_iso

TAP_TESTS = 1

PG_CONFIG ?= pg_config
PGXS := $(shell $(PG_CONFIG) --pgxs)
include $(PGXS)

# PGXS looks for TAP tests in ./t; ours live in test/t.
PROVE_TESTS = $(sort $(wildcard $(srcdir)/test/t/*.pl))

# Every object depends on the shared headers (PGXS tracks no header dependencies).
$(OBJS): src/durable.h src/compat.h
