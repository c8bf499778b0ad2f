# Convenience targets; npm scripts are the source of truth.
.PHONY: generate check-generated build test bench

generate:
	npx buf generate

# Fails when src/gen differs from what the protos generate.
check-generated: generate
	git diff --exit-code -- src/gen
	test -z "$$(git status --porcelain -- src/gen)"

build:
	npm run build

test:
	npm test

bench:
	npm run bench
