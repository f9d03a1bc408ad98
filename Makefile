# demohost — build, test and run the demo. See README.md.
GO      ?= go
BIN     := bin
PLUGINS := $(notdir $(wildcard plugins/*))
PROTO   := sdk/proto/demohost/v1/subject.proto

.PHONY: all build demo test bench proto clean

all: build

## build: bin/demohost and each plugin binary in plugins/NAME/ (found by --plugin ./plugins/NAME)
build:
	@mkdir -p $(BIN)
	$(GO) build -o $(BIN)/demohost ./cmd/demohost
	@for p in $(PLUGINS); do \
		if [ -d plugins/$$p/cmd/demohost-$$p ]; then \
			echo "$(GO) build -o plugins/$$p/demohost-$$p ./plugins/$$p/cmd/demohost-$$p"; \
			$(GO) build -o plugins/$$p/demohost-$$p ./plugins/$$p/cmd/demohost-$$p || exit 1; \
		fi; \
	done

## demo: the rate-limiter demo in the terminal UI (local runtime, no Docker needed).
## Quitting early or a failed chapter (exit 1) is a normal end of a demo; a plugin or usage
## error (exit 2) fails make.
demo: build
	@$(BIN)/demohost --plugin ./plugins/$(DEMO_PLUGIN); s=$$?; [ $$s -le 1 ] || exit $$s

DEMO_PLUGIN ?= ratelimiter

## test: every test, against real processes, Redis and Docker
test: build
	$(GO) vet ./...
	$(GO) test -count=1 -timeout 15m ./...

## bench: every benchmark of the project in one run; writes BENCHMARKS.md (machine, method, figure, target)
bench: build
	$(GO) run ./cmd/benchreport -o BENCHMARKS.md

## proto: regenerate the committed Go code from the .proto (Debian's protoc, pinned Go plugins)
proto:
	protoc -I sdk/proto \
		--plugin=protoc-gen-go=$$($(GO) tool -n protoc-gen-go) \
		--plugin=protoc-gen-go-grpc=$$($(GO) tool -n protoc-gen-go-grpc) \
		--go_out=sdk/proto --go_opt=paths=source_relative \
		--go-grpc_out=sdk/proto --go-grpc_opt=paths=source_relative \
		$(PROTO)

clean:
	rm -rf $(BIN) plugins/*/demohost-*
