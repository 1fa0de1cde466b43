# The LiveKit module (cbindings/go/tslivekit, its own go.mod, found through
# cbindings/go/go.work): `make test` runs test-tslivekit, go vet and its
# tests under the race detector (a few seconds; the first run downloads
# github.com/livekit/protocol and its dependencies from the Go module proxy).
TEST_TARGETS += test-tslivekit
.PHONY: test-tslivekit

test-tslivekit: check-go lib
	cd $(GO_DIR)/tslivekit && $(GO_ENV) $(GO) vet ./...
	cd $(GO_DIR)/tslivekit && $(GO_ENV) $(GO) test -race -count=1 -timeout 300s ./...

# The benchmarks tslivekit/README.md quotes (about 30 s on 2 cores).
.PHONY: bench-tslivekit
bench-tslivekit: check-go lib
	cd $(GO_DIR)/tslivekit && $(GO_ENV) $(GO) test -run '^$$' -bench . -benchmem -count 5 -timeout 600s ./...
