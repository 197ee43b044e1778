# syntax=docker/dockerfile:1
# Portico: a static binary on a minimal, non-root base image.
#   docker build --build-arg VERSION=v0.1.0 -t portico:v0.1.0 .

FROM golang:1.26-bookworm AS build
WORKDIR /src
# Modules first, so source edits do not refetch them.
COPY go.mod go.sum ./
RUN go mod download
COPY . .
ARG VERSION=dev
RUN CGO_ENABLED=0 go build -trimpath -ldflags "-s -w -X main.version=${VERSION}" -o /out/portico ./cmd/portico
# Let a non-root process bind ports 80 and 443 (hostNetwork DaemonSet mode)
# with only NET_BIND_SERVICE, no root.
RUN apt-get update -qq && apt-get install -y -qq --no-install-recommends libcap2-bin \
 && setcap cap_net_bind_service=+ep /out/portico

FROM gcr.io/distroless/static-debian12:nonroot
COPY --from=build /out/portico /portico
USER 65532:65532
EXPOSE 80 443 10254
ENTRYPOINT ["/portico"]
