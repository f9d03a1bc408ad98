#!/usr/bin/env bash
# generate.sh [OUT]: generates the Go code of both sides of the contract from
# proto/demohost/v2/subject.proto into OUT (default: this repository), with
# Debian's protoc and the protoc-gen-go / protoc-gen-go-grpc pinned in go.mod.
#
#   internal/wire      the host's copy, proto package demohost.v2 (the wire's)
#   sdk/internal/wire  the sdk's copy, proto package demohost.v2.sdk
#
# The sdk's copy has a package name of its own because protobuf-go panics when
# two generated copies of one .proto are linked into one binary, and the sdk's
# test harness links both; the sdk serves under the wire's service name.
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
out=$(cd "${1:-$root}" && pwd)
cd "$root"
gen_go=$(go tool -n protoc-gen-go)
gen_grpc=$(go tool -n protoc-gen-go-grpc)
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT

mkdir -p "$tmp/demohost/v2/sdk" "$out/internal/wire" "$out/sdk/internal/wire"
sed 's/^package demohost\.v2;$/package demohost.v2.sdk;/' proto/demohost/v2/subject.proto >"$tmp/demohost/v2/sdk/subject.proto"

gen() { # gen INCLUDE FILE GO_PACKAGE MODULE OUTDIR
	protoc -I "$1" \
		--plugin=protoc-gen-go="$gen_go" --plugin=protoc-gen-go-grpc="$gen_grpc" \
		--go_opt="M$2=$3" --go_opt="module=$4" --go_out="$5" \
		--go-grpc_opt="M$2=$3" --go-grpc_opt="module=$4" --go-grpc_out="$5" \
		"$1/$2"
}
gen proto demohost/v2/subject.proto github.com/demohost/demohost/internal/wire github.com/demohost/demohost "$out"
gen "$tmp" demohost/v2/sdk/subject.proto github.com/demohost/demohost/sdk/internal/wire github.com/demohost/demohost/sdk "$out/sdk"
