#!/usr/bin/env bash
# Generates everything derived from proto/ (never edit the output by hand):
#   gen/api.pb   the descriptor set Envoy's grpc_json_transcoder loads
#   gen/ts/      TypeScript types for the services (proto-loader-gen-types)
# google/api/{annotations,http}.proto come from the installed protobufjs
# package; they are copied into gen/proto-deps so buf can resolve imports.
set -euo pipefail
cd "$(dirname "$0")/.."

deps=gen/proto-deps/google/api
mkdir -p "$deps"
cp node_modules/protobufjs/google/api/annotations.proto node_modules/protobufjs/google/api/http.proto "$deps/"

node_modules/.bin/buf build --as-file-descriptor-set -o gen/api.pb

rm -rf gen/ts
node_modules/.bin/proto-loader-gen-types \
  auth/v1/auth.proto enroll/v1/enroll.proto internal/v1/forwarding.proto \
  --grpcLib=@grpc/grpc-js --outDir=gen/ts --importFileExtension=.js \
  --keepCase --longs=String --enums=String --defaults --oneofs \
  -I proto -I gen/proto-deps >/dev/null
echo "gen-proto: wrote gen/api.pb and gen/ts/"
