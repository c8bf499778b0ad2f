# Convenience targets; npm scripts are the source of truth.
.PHONY: generate check-generated build test bench images image verify-images image-sizes

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

# Connector images from the one Dockerfile: docker build where a Docker
# engine answers, else buildah (on the local base of images/base.sh when the
# pinned base cannot be pulled). TAG=dev; BASE=<image> to build on another base.
TAG ?= dev
BASE ?=
image_args = --tag $(TAG) $(if $(BASE),--base $(BASE))

images: build
	images/build.sh $(image_args)

# One image: make image CONNECTOR=source-postgres
image: build
	images/build.sh $(image_args) $(CONNECTOR)

# Builds every image here with buildah on a local base (cached under
# /var/tmp/tributary-images) and checks each through its ENTRYPOINT.
verify-images: build
	images/verify.sh

# Compressed and uncompressed sizes of the images built by verify-images.
image-sizes:
	images/sizes.sh local
