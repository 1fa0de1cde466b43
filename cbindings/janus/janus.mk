# Janus (cbindings/janus), a C media server we did not write, counting with
# trackstats. `make test-janus`:
#   1. installs Debian's janus and janus-dev when missing (ensure_janus.sh);
#   2. installs trackstats into build/janus/prefix (`make install`) and builds
#      the janus.plugin.trackstats echo plugin against it through pkg-config:
#      a shared link, so the plugin records the SONAME; it exports only create;
#   3. runs the end-to-end test (e2e/, a pion/webrtc client; its own Go module,
#      dependencies pinned in e2e/go.sum): Janus on the loopback with only that
#      plugin, RTP and data channel through it for a few seconds, and
#      trackstats' UPSTREAM/DOWNSTREAM checked against the client's counts.
JANUS ?= janus
JANUS_DIR := cbindings/janus
JANUS_BUILD := build/janus
JANUS_PREFIX := $(CURDIR)/$(JANUS_BUILD)/prefix
JANUS_PLUGIN := $(JANUS_BUILD)/plugins/libjanus_trackstats.so
JANUS_CFLAGS := -std=gnu11 -O2 -g -fPIC -Wall -Wextra -Werror
# The e2e module stays out of cbindings/go/go.work: it needs nothing of the
# trackstats Go package.
JANUS_GO_ENV := GOWORK=off GOTOOLCHAIN=local
JANUS_PKGS := glib-2.0 jansson trackstats

TEST_TARGETS += test-janus
.PHONY: test-janus janus-plugin check-janus

check-janus: check-go
	@$(JANUS_DIR)/ensure_janus.sh

# Janus's headers include each other relative to /usr/include/janus.
janus-plugin: lib check-janus
	@$(MAKE) --no-print-directory install PREFIX=$(JANUS_PREFIX) >/dev/null
	@mkdir -p $(dir $(JANUS_PLUGIN))
	PKG_CONFIG_PATH=$(JANUS_PREFIX)/lib/pkgconfig; export PKG_CONFIG_PATH; \
	$(CC) $(JANUS_CFLAGS) -shared -fvisibility=hidden -I/usr/include/janus $$(pkg-config --cflags $(JANUS_PKGS)) \
	  $(JANUS_DIR)/janus_trackstats.c -o $(JANUS_PLUGIN) $$(pkg-config --libs $(JANUS_PKGS)) -Wl,-rpath,$(JANUS_PREFIX)/lib
	@exports=$$(nm -D --defined-only $(JANUS_PLUGIN) | awk '{ print $$NF }'); [ "$$exports" = create ] \
	  || { echo "error: the plugin exports more than create: $$exports"; exit 1; }
	@needed=$$(readelf -d $(JANUS_PLUGIN) | sed -n 's/.*Shared library: \[\(libtrackstats[^]]*\)\]/\1/p'); \
	  [ "$$needed" = "$(SONAME)" ] || { echo "error: the plugin records '$$needed', not the SONAME $(SONAME)"; exit 1; }
	$(CC) $(JANUS_CFLAGS) -shared $(JANUS_DIR)/loopback_shim.c -o $(JANUS_BUILD)/loopback_shim.so -ldl

test-janus: janus-plugin
	cd $(JANUS_DIR)/e2e && $(JANUS_GO_ENV) $(GO) vet ./...
	@cd $(JANUS_DIR)/e2e && bad=$$($$($(GO) env GOROOT)/bin/gofmt -l .) && [ -z "$$bad" ] \
	  || { echo "error: gofmt would change: $$bad (run gofmt -w $(JANUS_DIR)/e2e)"; exit 1; }
	cd $(JANUS_DIR)/e2e && $(JANUS_GO_ENV) $(GO) build -o $(CURDIR)/$(JANUS_BUILD)/e2e .
	./$(JANUS_BUILD)/e2e -janus $(JANUS) -plugins $(dir $(JANUS_PLUGIN)) -shim $(JANUS_BUILD)/loopback_shim.so \
	  -dir $(JANUS_BUILD)/run
