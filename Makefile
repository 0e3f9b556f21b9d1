# redifx — see README.md.
GO              ?= go
BIN             := bin/redifx
VERSION         ?= $(shell git describe --tags --always --dirty 2>/dev/null || echo dev)
LDFLAGS         := -s -w -X main.version=$(VERSION)
STATICCHECK     := honnef.co/go/tools/cmd/staticcheck@v0.7.0
TEST_TIMEOUT    ?= 15m

.PHONY: build run test lint cover bench clean

build:
	$(GO) build -trimpath -ldflags '$(LDFLAGS)' -o $(BIN) .

# Runs the service; without a reachable Redis it uses the embedded fallback
# (development only).
run: build
	./$(BIN) serve

# The whole suite: unit, lifecycle, fault and end-to-end tests, with the race
# detector, against real redis-server processes started by redistest.
test:
	$(GO) test -race -count=1 -timeout $(TEST_TIMEOUT) ./...

lint:
	@out=$$(gofmt -l .); if [ -n "$$out" ]; then echo "gofmt would change:"; echo "$$out"; exit 1; fi
	$(GO) vet ./...
	$(GO) run $(STATICCHECK) ./...

cover:
	$(GO) test -race -count=1 -coverpkg=./... -coverprofile=coverage.out ./...
	$(GO) tool cover -func=coverage.out | tail -n 1

# Benchmarks (minutes; not part of make test). Each writes bench/results/.
bench:
	./bench/run.sh
	./bench/realtime/run.sh
	./bench/jobs/run.sh
	./bench/dashboard/run.sh

clean:
	rm -rf bin coverage.out
