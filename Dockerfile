# The fledge binary in a distroless image: `docker build -t fledge .`
# The default command is the Kubernetes controller (config/manager,
# charts/fledge); any other `fledge` command can be given instead.

FROM golang:1.26 AS build
WORKDIR /src
# Dependencies first, in their own layer, so that a source change does not
# download them again.
COPY go.mod go.sum ./
RUN go mod download
COPY . .
# Static (no cgo) for the static distroless base; -trimpath keeps the build
# machine's paths out of the binary.
RUN CGO_ENABLED=0 go build -trimpath -ldflags "-s -w" -o /out/fledge ./cmd/fledge

FROM gcr.io/distroless/static-debian12:nonroot
COPY --from=build /out/fledge /fledge
# Numeric, so that Kubernetes can check runAsNonRoot.
USER 65532:65532
ENTRYPOINT ["/fledge"]
CMD ["controller"]
