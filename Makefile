# Steward build, run and test entry points. See README.md.

GO      ?= go
VERSION ?= $(shell git describe --tags --always --dirty 2>/dev/null || echo dev)
LDFLAGS := -s -w -X main.version=$(VERSION)
BUILD   := CGO_ENABLED=0 $(GO) build -trimpath -ldflags "$(LDFLAGS)"

# make run DB=postgres://... uses PostgreSQL instead of the embedded store.
DB      ?= sqlite://./data/steward.db
# make run CONFIG=steward.yaml starts the server with that config file
# (alerting rules and receivers, see README.md#alerts).
CONFIG  ?=

.PHONY: build run test soak clean dashboards previews

build:
	@mkdir -p bin
	$(BUILD) -o bin/ ./agent/cmd/steward-agent ./server/cmd/steward-server ./server/cmd/stewardctl ./server/cmd/steward-loadgen

run: build
	@DB='$(DB)' CONFIG='$(CONFIG)' scripts/run.sh

test:
	@scripts/test.sh

# The crash test: SIGKILLs the server while alerts fire (a few minutes).
soak:
	@scripts/soak.sh

# Regenerates the Grafana dashboards (dashboards/grafana/*.json) from the
# Go code in dashboards/generate; commit the result.
dashboards:
	$(GO) run ./dashboards/generate/cmd/gen -out dashboards/grafana

# Draws dashboards/previews/*.png: runs every dashboard query against a
# real steward-server, PostgreSQL and Prometheus (TestDashboardQueries)
# and renders each dashboard from the results (not Grafana screenshots).
previews: build
	STEWARD_PREVIEW_DIR=$(CURDIR)/dashboards/previews $(GO) test -count=1 -run '^TestDashboardQueries$$' ./server/internal/e2e/

clean:
	rm -rf bin
