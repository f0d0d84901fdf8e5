# recoverydesk — build, run and test. `make run` and `make test` are the two
# set-up commands of the README; both work on a fresh clone.

GO            ?= go
MINIO_MODULE  := github.com/minio/minio
MINIO_VERSION := v0.0.0-20260212201848-7aac2a2c5b7c
GOFILES        = $(shell git ls-files '*.go' 2>/dev/null || find . -name '*.go' -not -path './bin/*')

.PHONY: run test build bench load faults generate lint fuzz-smoke clean

## run: build everything and serve on the embedded defaults in dev mode
run: build
	RD_DEV=1 ./bin/recoverydesk serve

## test: the whole suite (uses bin/minio; PostgreSQL when RD_TEST_POSTGRES_URL is set)
test: bin/minio
	$(GO) test -count=1 -timeout 20m ./...

## faults: the fault suite (real binary, PostgreSQL on 127.0.0.1:5432, MinIO, a stub SMS gateway); see faults/
faults: build
	$(GO) test -tags faults -count=1 -parallel 3 -timeout 15m ./faults/

## build: the recoverydesk binary and the bundled MinIO server
build: bin/minio
	$(GO) build -buildvcs=auto -o bin/recoverydesk ./cmd/recoverydesk

## bench: the full benchmark (10 000 → 1 000 000 cases, under 15 minutes); writes docs/BENCHMARKS.md.
## BENCH_DB=postgres measures on PostgreSQL (RD_BENCH_POSTGRES_URL, default
## postgres://postgres@127.0.0.1:5432/recoverydesk_bench, dropped and created afresh);
## BENCH_FLAGS=--instances=3 runs three servers on one database and one MinIO.
BENCH_DB ?= sqlite
bench: build
	$(GO) run ./cmd/bench --server bin/recoverydesk --db $(BENCH_DB) $(BENCH_FLAGS)

## load: a sustained mixed load (applicants and reviewers) against three servers on PostgreSQL; see cmd/load.
## LOAD_FLAGS=--quick runs it for 20 s (CI).
load: build
	$(GO) run ./cmd/load --server bin/recoverydesk $(LOAD_FLAGS)

## fuzz-smoke: 20 s of fuzzing the metadata strip (the proof that one decode is enough; see FuzzStrip)
fuzz-smoke:
	$(GO) test -run '^$$' -fuzz '^FuzzStrip$$' -fuzztime 20s -fuzzminimizetime 2s ./internal/imagecheck/

# The MinIO server is a Go module; it is built once (about 2 minutes) with
# the pinned version and kept in bin/ (never committed).
bin/minio:
	GOBIN=$(CURDIR)/bin $(GO) install $(MINIO_MODULE)@$(MINIO_VERSION)

## generate: regenerate the ent code after a schema change
generate:
	$(GO) generate ./ent

## lint: go vet and a gofmt check
lint:
	$(GO) vet ./...
	$(GO) vet -tags faults ./faults/
	@out="$$(gofmt -l $(GOFILES))"; if [ -n "$$out" ]; then echo "gofmt needed:"; echo "$$out"; exit 1; fi

clean:
	rm -rf bin/recoverydesk
