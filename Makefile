# Steward build, run and test entry points. See README.md.

GO      ?= go
VERSION ?= $(shell git describe --tags --always --dirty 2>/dev/null || echo dev)
# COMMITS orders untagged builds: stewardctl package versions the
# installers it builds as 0.0.0~git<COMMITS>.<hash> until a tag exists.
COMMITS ?= $(shell git rev-list --count HEAD 2>/dev/null || echo 0)
LDFLAGS := -s -w -X main.version=$(VERSION) -X main.commits=$(COMMITS)
BUILD   := CGO_ENABLED=0 $(GO) build -trimpath -ldflags "$(LDFLAGS)"

# make run DB=postgres://... uses PostgreSQL instead of the embedded store.
DB      ?= sqlite://./data/steward.db
# make run CONFIG=steward.yaml starts the server with that config file
# (alerting rules and receivers, see README.md#alerts).
CONFIG  ?=
# make run PORT=9090 listens on 127.0.0.1:9090; STEWARD_LISTEN=HOST:PORT
# (from the environment or the command line) picks the address too.
PORT    ?=
STEWARD_LISTEN ?=

.PHONY: build run test soak bench clean dashboards previews packages

build:
	@mkdir -p bin
	$(BUILD) -o bin/ ./agent/cmd/steward-agent ./server/cmd/steward-server ./server/cmd/stewardctl ./server/cmd/steward-loadgen

run: build
	@DB='$(DB)' CONFIG='$(CONFIG)' PORT='$(PORT)' STEWARD_LISTEN='$(STEWARD_LISTEN)' scripts/run.sh

test:
	@scripts/test.sh

# The crash tests: SIGKILL the server while alerts fire and while agents
# stream inventories (a few minutes).
soak:
	@scripts/soak.sh

# The server's scale benchmarks (enroll storm, steady ingest, a burst of
# policy applies, read queries) at a reduced size, under 10 minutes here;
# BENCH_AGENTS=5000 BENCH_HOSTS=20000 for the full size.
bench:
	@scripts/bench.sh

# Regenerates the Grafana dashboards (dashboards/grafana/*.json) from the
# Go code in dashboards/generate; commit the result.
dashboards:
	$(GO) run ./dashboards/generate/cmd/gen -out dashboards/grafana

# Draws dashboards/previews/*.png: runs every dashboard query against a
# real steward-server, PostgreSQL and Prometheus (TestDashboardQueries)
# and renders each dashboard from the results (not Grafana screenshots).
previews: build
	STEWARD_PREVIEW_DIR=$(CURDIR)/dashboards/previews $(GO) test -count=1 -run '^TestDashboardQueries$$' ./server/internal/e2e/

# Release artefacts in dist/ (docs/packages.md): the unconfigured .deb and
# .rpm of the agent and the server for amd64 and arm64, the agent's MSI
# (amd64) and macOS tarballs, the binaries, and SHA256SUMS. The MSI needs
# wixl and msitools.
packages:
	$(GO) run ./installers/cmd/packages -version '$(VERSION)' -commits '$(COMMITS)' -out dist

clean:
	rm -rf bin
