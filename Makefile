# demohost — build, test and run the demo. See README.md.
GO      ?= go
BIN     := bin
# Every Go module of the repository: the host (.), the sdk, its Docker
# helper and each plugin with a go.mod of its own.
MODULES := . sdk sdk/docker sdk/sdktest $(patsubst %/go.mod,%,$(wildcard plugins/*/go.mod))
# Plugins built to plugins/NAME/demohost-NAME (found by --plugin ./plugins/NAME).
PLUGINS := $(notdir $(patsubst %/,%,$(dir $(wildcard plugins/*/cmd))))

.PHONY: all build demo replay test vet prereqs bench proto clean

all: build

## build: bin/demohost and each plugin binary in plugins/NAME/
build:
	@mkdir -p $(BIN)
	$(GO) build -o $(BIN)/demohost ./cmd/demohost
	@for p in $(PLUGINS); do \
		echo "(cd plugins/$$p && $(GO) build -o demohost-$$p ./cmd/demohost-$$p)"; \
		(cd plugins/$$p && $(GO) build -o demohost-$$p ./cmd/demohost-$$p) || exit 1; \
	done

## demo: the rate-limiter demo in the terminal UI (local runtime, no Docker needed).
## Quitting early or a failed chapter (exit 1) is a normal end of a demo; a plugin or usage
## error (exit 2) fails make.
demo: build
	@$(BIN)/demohost --plugin ./plugins/$(DEMO_PLUGIN); s=$$?; [ $$s -le 1 ] || exit $$s

DEMO_PLUGIN ?= ratelimiter

## replay: the recorded rate-limiter demo in the terminal UI: no plugin, Redis or Docker
## (the fallback when make demo cannot run)
replay:
	@mkdir -p $(BIN)
	$(GO) build -o $(BIN)/demohost ./cmd/demohost
	@$(BIN)/demohost replay recordings/ratelimiter.json

## vet: go vet in every module
vet:
	@for m in $(MODULES); do echo "go vet ($$m)"; (cd $$m && $(GO) vet ./...) || exit 1; done

## prereqs: install (or say how to install) what the tests run against; check Docker
prereqs:
	@scripts/prereqs

## test: every test of every module, against real processes, Redis, etcd, namespaces and Docker
test: prereqs build vet
	@for m in $(MODULES); do echo "go test ($$m)"; (cd $$m && $(GO) test -count=1 -timeout 15m ./...) || exit 1; done

## bench: every benchmark of the project in one run; writes BENCHMARKS.md (machine, method, figure, target)
bench: build
	$(GO) run ./cmd/benchreport -o BENCHMARKS.md

## proto: regenerate the host's and the sdk's Go code from proto/demohost/v2/subject.proto
proto:
	bash proto/generate.sh
	bash plugins/jobqueue/generate.sh

clean:
	rm -rf $(BIN) $(foreach p,$(PLUGINS),plugins/$(p)/demohost-$(p))
