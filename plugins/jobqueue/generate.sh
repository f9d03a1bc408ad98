#!/usr/bin/env bash
# generate.sh [DIR]: generates this plugin's Python stubs of the contract,
# proto/demohost/v2/subject.proto, into DIR/gen (default: this directory),
# with Debian's python3-grpc-tools. The stubs are committed; a test
# (jobqueue_test.go) regenerates them and fails when they are stale.
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
root=$(cd "$here/../.." && pwd)
out=$(cd "${1:-$here}" && pwd)/gen
rm -rf "$out/demohost"
mkdir -p "$out"
/usr/bin/python3 -m grpc_tools.protoc -I "$root/proto" \
	--python_out="$out" --grpc_python_out="$out" demohost/v2/subject.proto
